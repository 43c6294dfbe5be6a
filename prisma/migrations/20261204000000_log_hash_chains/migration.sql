-- Tamper evidence for the audit trail and the lookup log: each is a hash chain per context. An
-- entry holds its place in its context's chain (chain_seq, from 1), the hash of the entry before
-- it (prev_hash; 32 zero bytes for the first) and its own hash, SHA-256 of prev_hash followed by
-- the entry's content (ipdr_audit_event_content, ipdr_lookup_log_content: every column but these
-- three, in a fixed text form). log_chain_heads holds each chain's last place and hash, so that a
-- removed last entry is seen too. `ipdr-admin verify` walks the chains (src/audit/chain.ts).
--
-- An entry is chained when its transaction commits (a deferred constraint trigger), not when it
-- is inserted: the head's row lock, which orders the writers of a context, is then held for the
-- commit only, where at insert time a long transaction (an import of a million rows) would hold
-- it to its end and make every other writer of its context wait. An entry rolled back is never
-- chained; the chain's order is the order in which the entries' transactions committed.

CREATE TABLE "log_chain_heads" (
    "log"        TEXT    NOT NULL CHECK ("log" IN ('audit', 'lookup')),
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id"),
    "seq"        BIGINT  NOT NULL,
    "hash"       BYTEA   NOT NULL,
    PRIMARY KEY ("log", "context_id")
);

ALTER TABLE "audit_events"
    ADD COLUMN "chain_seq" BIGINT,
    ADD COLUMN "prev_hash" BYTEA,
    ADD COLUMN "hash" BYTEA;
ALTER TABLE "lookup_log"
    ADD COLUMN "chain_seq" BIGINT,
    ADD COLUMN "prev_hash" BYTEA,
    ADD COLUMN "hash" BYTEA;
CREATE UNIQUE INDEX "audit_events_chain_idx" ON "audit_events" ("context_id", "chain_seq");
CREATE UNIQUE INDEX "lookup_log_chain_idx" ON "lookup_log" ("context_id", "chain_seq");

-- The content an entry's hash covers: its columns as one JSON array's text (jsonb's text form is
-- canonical: the same values always give the same text), times as milliseconds since the epoch,
-- so that neither the session's time zone nor its date style changes it.
CREATE FUNCTION ipdr_audit_event_content(e "audit_events") RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(
        e."id", e."context_id", (extract(epoch FROM e."at") * 1000)::bigint, e."actor", e."channel",
        e."action", e."entity_type", e."entity_id", e."entity_id_last", e."before", e."after"
    )::text
$$;
CREATE FUNCTION ipdr_lookup_log_content(l "lookup_log") RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(
        l."id", l."context_id", (extract(epoch FROM l."at") * 1000)::bigint, l."username", l."channel",
        l."operation", l."reason", l."lookups", l."detail"
    )::text
$$;

-- The transaction an entry was written in (its top-level transaction, savepoints included): at
-- commit, the first entry's trigger chains all of its transaction's entries at once, in id order,
-- and moves each head once. Chaining entry by entry moved the head row once an entry, and a
-- group commit of RADIUS accounting spent most of its time walking that row's versions.
ALTER TABLE "audit_events" ADD COLUMN "chain_txid" BIGINT DEFAULT pg_current_xact_id()::text::bigint;
ALTER TABLE "lookup_log" ADD COLUMN "chain_txid" BIGINT DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX "audit_events_unchained_idx" ON "audit_events" ("chain_txid") WHERE "chain_seq" IS NULL;
CREATE INDEX "lookup_log_unchained_idx" ON "lookup_log" ("chain_txid") WHERE "chain_seq" IS NULL;

-- Chains the entries of `which_log` this transaction wrote and nothing has chained yet: per context, in
-- the order of the contexts' ids (so two transactions lock heads in the same order), each head
-- locked until the transaction ends.
CREATE FUNCTION ipdr_chain_pending(which_log TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    own_txid BIGINT := pg_current_xact_id()::text::bigint;
    context INTEGER;
    head_seq BIGINT;
    head_hash BYTEA;
    entry RECORD;
    ids BIGINT[];
    seqs BIGINT[];
    prevs BYTEA[];
    hashes BYTEA[];
    n INTEGER;
BEGIN
    FOR context IN
        SELECT DISTINCT e."context_id" FROM "audit_events" e
            WHERE which_log = 'audit' AND e."chain_txid" = own_txid AND e."chain_seq" IS NULL
        UNION
        SELECT DISTINCT l."context_id" FROM "lookup_log" l
            WHERE which_log = 'lookup' AND l."chain_txid" = own_txid AND l."chain_seq" IS NULL
        ORDER BY 1
    LOOP
        PERFORM 1 FROM "log_chain_heads" h WHERE h."log" = which_log AND h."context_id" = context;
        IF NOT FOUND THEN
            INSERT INTO "log_chain_heads" ("log", "context_id", "seq", "hash")
                VALUES (which_log, context, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                ON CONFLICT DO NOTHING;
        END IF;
        SELECT h."seq", h."hash" INTO head_seq, head_hash
            FROM "log_chain_heads" h WHERE h."log" = which_log AND h."context_id" = context FOR UPDATE;
        ids := '{}'; seqs := '{}'; prevs := '{}'; hashes := '{}'; n := 0;
        IF which_log = 'audit' THEN
            FOR entry IN SELECT e.id::bigint AS id, ipdr_audit_event_content(e) AS content FROM "audit_events" e
                WHERE e."chain_txid" = own_txid AND e."chain_seq" IS NULL AND e."context_id" = context ORDER BY e."id"
            LOOP
                n := n + 1;
                head_seq := head_seq + 1;
                -- Element assignment: PL/pgSQL grows the array in place (appending with || copied it).
                ids[n] := entry.id; seqs[n] := head_seq; prevs[n] := head_hash;
                head_hash := sha256(head_hash || convert_to(entry.content, 'UTF8'));
                hashes[n] := head_hash;
            END LOOP;
            UPDATE "audit_events" e SET "chain_seq" = c.seq, "prev_hash" = c.prev, "hash" = c.hash
                FROM unnest(ids, seqs, prevs, hashes) AS c(id, seq, prev, hash) WHERE e."id" = c.id;
        ELSE
            FOR entry IN SELECT l.id AS id, ipdr_lookup_log_content(l) AS content FROM "lookup_log" l
                WHERE l."chain_txid" = own_txid AND l."chain_seq" IS NULL AND l."context_id" = context ORDER BY l."id"
            LOOP
                n := n + 1;
                head_seq := head_seq + 1;
                -- Element assignment: PL/pgSQL grows the array in place (appending with || copied it).
                ids[n] := entry.id; seqs[n] := head_seq; prevs[n] := head_hash;
                head_hash := sha256(head_hash || convert_to(entry.content, 'UTF8'));
                hashes[n] := head_hash;
            END LOOP;
            UPDATE "lookup_log" l SET "chain_seq" = c.seq, "prev_hash" = c.prev, "hash" = c.hash
                FROM unnest(ids, seqs, prevs, hashes) AS c(id, seq, prev, hash) WHERE l."id" = c.id;
        END IF;
        UPDATE "log_chain_heads" SET "seq" = head_seq, "hash" = head_hash
            WHERE "log" = which_log AND "context_id" = context;
    END LOOP;
END
$$;

-- Each entry's trigger at commit: the first one of its transaction chains them all; the others
-- find their entry chained already.
CREATE FUNCTION ipdr_chain_audit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    place BIGINT;
BEGIN
    -- By its id alone: with "chain_seq IS NULL" beside it the planner took the partial index of
    -- unchained entries, which still lists every entry chained in this transaction.
    SELECT "chain_seq" INTO place FROM "audit_events" WHERE "id" = NEW."id";
    IF FOUND AND place IS NULL THEN
        PERFORM ipdr_chain_pending('audit');
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION ipdr_chain_lookup_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    place BIGINT;
BEGIN
    -- By its id alone: with "chain_seq IS NULL" beside it the planner took the partial index of
    -- unchained entries, which still lists every entry chained in this transaction.
    SELECT "chain_seq" INTO place FROM "lookup_log" WHERE "id" = NEW."id";
    IF FOUND AND place IS NULL THEN
        PERFORM ipdr_chain_pending('lookup');
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "audit_events_chain" AFTER INSERT ON "audit_events"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ipdr_chain_audit_event();
CREATE CONSTRAINT TRIGGER "lookup_log_chain" AFTER INSERT ON "lookup_log"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ipdr_chain_lookup_log();

-- The entries written before this migration, chained in the order of their ids (the migration's
-- own transaction takes them as its own).
UPDATE "audit_events" SET "chain_txid" = pg_current_xact_id()::text::bigint;
UPDATE "lookup_log" SET "chain_txid" = pg_current_xact_id()::text::bigint;
SELECT ipdr_chain_pending('audit');
SELECT ipdr_chain_pending('lookup');
