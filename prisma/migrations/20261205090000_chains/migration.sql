-- Tamper evidence (issue 19): the audit trail and the lookup log are hash-chained per context.
--
-- Each transaction that writes entries adds one link to its context's chain, as it ends
-- (ipdr_chain_seal): the ids of its entries, the SHA-256 of each one's content (ipdr_audit_content,
-- ipdr_lookup_content), the hash of the link before, and its own hash, sha256(prev_hash || the
-- entries' hashes in order). So a row written by plain SQL is on no link, a row changed since has
-- another hash, a row removed leaves its id and hash behind, and a link removed breaks the chain.
--
-- A context's chain runs along 16 lanes, each a chain of its own: a transaction takes a lane no
-- other transaction holds (SKIP LOCKED) and keeps it only from its seal to its commit, so
-- concurrent writers do not queue behind one head. Links live beside the entries, not in them: a
-- retention purge deletes entries and records which (chain_purged); the links stay whole.

-- The transaction that wrote an entry: the seal finds its own transaction's entries by it. Set
-- by a default added after the column, so that the rows already there keep NULL (no rewrite).
ALTER TABLE "audit_events" ADD COLUMN "written_txid" BIGINT;
ALTER TABLE "audit_events" ALTER COLUMN "written_txid" SET DEFAULT txid_current();
CREATE INDEX "audit_events_written_txid_idx" ON "audit_events" ("written_txid");
ALTER TABLE "lookup_log" ADD COLUMN "written_txid" BIGINT;
ALTER TABLE "lookup_log" ALTER COLUMN "written_txid" SET DEFAULT txid_current();
CREATE INDEX "lookup_log_written_txid_idx" ON "lookup_log" ("written_txid");

-- The last link of each lane.
CREATE TABLE "chain_heads" (
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "log" TEXT NOT NULL CONSTRAINT "chain_heads_log_check" CHECK ("log" IN ('audit', 'lookup')),
    "lane" SMALLINT NOT NULL,
    "seq" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL,
    PRIMARY KEY ("context_id", "log", "lane")
);

CREATE TABLE "chain_links" (
    "context_id" INTEGER NOT NULL,
    "log" TEXT NOT NULL,
    "lane" SMALLINT NOT NULL,
    -- 1, 2, 3, ... along the lane.
    "seq" BIGINT NOT NULL,
    -- The transaction's entries in id order, and the SHA-256 of each one's content.
    "entry_ids" BIGINT[] NOT NULL,
    "entry_hashes" BYTEA[] NOT NULL,
    "prev_hash" BYTEA NOT NULL,
    "hash" BYTEA NOT NULL,
    PRIMARY KEY ("context_id", "log", "lane", "seq"),
    CONSTRAINT "chain_links_entries_check" CHECK (cardinality("entry_ids") = cardinality("entry_hashes"))
);

-- The entries a retention purge deleted: their links still name them.
CREATE TABLE "chain_purged" (
    "log" TEXT NOT NULL,
    "entry_id" BIGINT NOT NULL,
    "purge_id" INTEGER NOT NULL REFERENCES "retention_purges" ("id") ON DELETE RESTRICT,
    PRIMARY KEY ("log", "entry_id")
);

-- Where each lane stood when a purge ran: {"audit": {"3": [seq, "hex hash"], ...}, "lookup": {...}}.
-- verify checks that the chains still pass through these points.
ALTER TABLE "retention_purges" ADD COLUMN "chain_heads" JSONB;

-- The hash a lane starts from.
CREATE FUNCTION "ipdr_chain_genesis"(log TEXT, context_id INTEGER, lane SMALLINT) RETURNS BYTEA
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(format('ipdr-gateway %s chain, context %s, lane %s', log, context_id, lane), 'UTF8'))
$$;

-- A link's hash: of the hash before it and of its entries' hashes, in order.
CREATE FUNCTION "ipdr_chain_link_hash"(prev_hash BYTEA, entry_hashes BYTEA[]) RETURNS BYTEA
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(prev_hash || coalesce((SELECT string_agg(h, ''::BYTEA ORDER BY n)
        FROM unnest(entry_hashes) WITH ORDINALITY AS e(h, n)), ''::BYTEA))
$$;

-- An entry's content, every column the gateway wrote, as canonical text (jsonb's own output:
-- keys sorted, numbers exact; times in microseconds since the epoch), hashed.
CREATE FUNCTION "ipdr_audit_content"(e "audit_events") RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT sha256(convert_to(jsonb_build_array(
        e."id", e."context_id", (extract(epoch FROM e."at") * 1000000)::BIGINT, e."actor", e."channel",
        e."action", e."entity_type", e."entity_id", e."entity_id_last", e."before", e."after")::TEXT, 'UTF8'))
$$;
CREATE FUNCTION "ipdr_lookup_content"(l "lookup_log") RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT sha256(convert_to(jsonb_build_array(
        l."id", l."context_id", (extract(epoch FROM l."at") * 1000000)::BIGINT, l."username", l."channel",
        l."operation", l."reason", l."lookups", l."detail", l."request_digest", l."answer_digest",
        l."answer")::TEXT, 'UTF8'))
$$;

-- Adds the link of `ids` (in order, with their content hashes) to one lane of the context's
-- chain: a free one, or when every lane is held, one chosen by the transaction, waited for.
CREATE FUNCTION "ipdr_chain_append"(chain_log TEXT, chain_context INTEGER, ids BIGINT[], contents BYTEA[])
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    lanes CONSTANT INTEGER := 16;
    head RECORD;
    h BYTEA;
BEGIN
    SELECT lane, seq, hash INTO head FROM "chain_heads"
        WHERE context_id = chain_context AND log = chain_log ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        INSERT INTO "chain_heads" (context_id, log, lane, seq, hash)
            SELECT chain_context, chain_log, n, 0, ipdr_chain_genesis(chain_log, chain_context, n::SMALLINT)
            FROM generate_series(0, lanes - 1) n ON CONFLICT DO NOTHING;
        SELECT lane, seq, hash INTO head FROM "chain_heads"
            WHERE context_id = chain_context AND log = chain_log ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        SELECT lane, seq, hash INTO head FROM "chain_heads"
            WHERE context_id = chain_context AND log = chain_log AND lane = txid_current() % lanes FOR UPDATE;
    END IF;
    h := ipdr_chain_link_hash(head.hash, contents);
    INSERT INTO "chain_links" (context_id, log, lane, seq, entry_ids, entry_hashes, prev_hash, hash)
        VALUES (chain_context, chain_log, head.lane, head.seq + 1, ids, contents, head.hash, h);
    UPDATE "chain_heads" SET seq = head.seq + 1, hash = h
        WHERE context_id = chain_context AND log = chain_log AND lane = head.lane;
END $$;

-- Links every entry this transaction wrote and did not link yet; the gateway runs it last in
-- each transaction that writes the audit trail or the lookup log. Contexts in order, so that two
-- sealing transactions never wait on each other's lanes in a cycle.
CREATE FUNCTION "ipdr_chain_seal"() RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    me CONSTANT BIGINT := txid_current();
    -- The last ids an earlier seal of this transaction linked: what the transaction wrote after
    -- it has higher ids (a sequence only grows).
    audit_done CONSTANT BIGINT := coalesce(nullif(current_setting('ipdr.chain_audit_done', true), ''), '0')::BIGINT;
    lookup_done CONSTANT BIGINT := coalesce(nullif(current_setting('ipdr.chain_lookup_done', true), ''), '0')::BIGINT;
    pending RECORD;
    linked INTEGER := 0;
BEGIN
    -- Planned for this transaction's id (EXECUTE): a plan made for any id would be made from the
    -- column's statistics, and a bulk load written by a few transactions makes them say "most rows".
    FOR pending IN EXECUTE format($query$
        SELECT * FROM (
            SELECT 'audit' AS log, e.context_id, array_agg(e.id::BIGINT ORDER BY e.id) AS ids,
                   array_agg(ipdr_audit_content(e) ORDER BY e.id) AS contents
            FROM "audit_events" e
            WHERE e.written_txid = %1$s AND e.id > %2$s
            GROUP BY e.context_id
            UNION ALL
            SELECT 'lookup', l.context_id, array_agg(l.id ORDER BY l.id), array_agg(ipdr_lookup_content(l) ORDER BY l.id)
            FROM "lookup_log" l
            WHERE l.written_txid = %1$s AND l.id > %3$s
            GROUP BY l.context_id
        ) p ORDER BY p.context_id, p.log $query$, me, audit_done, lookup_done)
    LOOP
        PERFORM ipdr_chain_append(pending.log, pending.context_id, pending.ids, pending.contents);
        linked := linked + cardinality(pending.ids);
        PERFORM set_config('ipdr.chain_' || pending.log || '_done',
            greatest(pending.ids[cardinality(pending.ids)],
                coalesce(nullif(current_setting('ipdr.chain_' || pending.log || '_done', true), ''), '0')::BIGINT)::TEXT,
            true);
    END LOOP;
    RETURN linked;
END $$;

-- The entries written before chaining began are linked now, per context in id order, ten
-- thousand to a link.
DO $$
DECLARE
    pending RECORD;
BEGIN
    FOR pending IN
        SELECT log, context_id, array_agg(id ORDER BY id) AS ids, array_agg(content ORDER BY id) AS contents
        FROM (
            SELECT 'audit' AS log, e.context_id, e.id::BIGINT AS id, ipdr_audit_content(e) AS content,
                   (row_number() OVER (PARTITION BY e.context_id ORDER BY e.id) - 1) / 10000 AS chunk
            FROM "audit_events" e
            UNION ALL
            SELECT 'lookup', l.context_id, l.id, ipdr_lookup_content(l),
                   (row_number() OVER (PARTITION BY l.context_id ORDER BY l.id) - 1) / 10000
            FROM "lookup_log" l
        ) entries
        GROUP BY log, context_id, chunk ORDER BY log, context_id, chunk
    LOOP
        PERFORM ipdr_chain_append(pending.log, pending.context_id, pending.ids, pending.contents);
    END LOOP;
END $$;
