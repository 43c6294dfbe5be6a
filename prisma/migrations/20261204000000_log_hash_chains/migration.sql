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

-- The next place and the hash before it in the chain `log` of `context`, the head locked until
-- the transaction ends, and the head moved on to `hash_of(prev_hash)` by the caller.
CREATE FUNCTION ipdr_chain_next(log TEXT, context INTEGER, OUT seq BIGINT, OUT prev_hash BYTEA)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT h."seq" + 1, h."hash" INTO seq, prev_hash
        FROM "log_chain_heads" h WHERE h."log" = ipdr_chain_next.log AND h."context_id" = context FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO "log_chain_heads" ("log", "context_id", "seq", "hash")
            VALUES (ipdr_chain_next.log, context, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
            ON CONFLICT DO NOTHING;
        SELECT h."seq" + 1, h."hash" INTO seq, prev_hash
            FROM "log_chain_heads" h WHERE h."log" = ipdr_chain_next.log AND h."context_id" = context FOR UPDATE;
    END IF;
END
$$;

CREATE FUNCTION ipdr_chain_audit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    next RECORD;
    entry "audit_events";
    own_hash BYTEA;
BEGIN
    -- The row as it stands at commit (NEW is the row as inserted; nothing changes it meanwhile).
    SELECT * INTO entry FROM "audit_events" WHERE "id" = NEW."id";
    IF NOT FOUND OR entry."chain_seq" IS NOT NULL THEN
        RETURN NULL;
    END IF;
    next := ipdr_chain_next('audit', entry."context_id");
    own_hash := sha256(next.prev_hash || convert_to(ipdr_audit_event_content(entry), 'UTF8'));
    UPDATE "audit_events" SET "chain_seq" = next.seq, "prev_hash" = next.prev_hash, "hash" = own_hash
        WHERE "id" = entry."id";
    UPDATE "log_chain_heads" SET "seq" = next.seq, "hash" = own_hash
        WHERE "log" = 'audit' AND "context_id" = entry."context_id";
    RETURN NULL;
END
$$;

CREATE FUNCTION ipdr_chain_lookup_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    next RECORD;
    entry "lookup_log";
    own_hash BYTEA;
BEGIN
    SELECT * INTO entry FROM "lookup_log" WHERE "id" = NEW."id";
    IF NOT FOUND OR entry."chain_seq" IS NOT NULL THEN
        RETURN NULL;
    END IF;
    next := ipdr_chain_next('lookup', entry."context_id");
    own_hash := sha256(next.prev_hash || convert_to(ipdr_lookup_log_content(entry), 'UTF8'));
    UPDATE "lookup_log" SET "chain_seq" = next.seq, "prev_hash" = next.prev_hash, "hash" = own_hash
        WHERE "id" = entry."id";
    UPDATE "log_chain_heads" SET "seq" = next.seq, "hash" = own_hash
        WHERE "log" = 'lookup' AND "context_id" = entry."context_id";
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "audit_events_chain" AFTER INSERT ON "audit_events"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ipdr_chain_audit_event();
CREATE CONSTRAINT TRIGGER "lookup_log_chain" AFTER INSERT ON "lookup_log"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ipdr_chain_lookup_log();

-- The entries written before this migration, chained in the order of their ids.
DO $$
DECLARE
    entry RECORD;
    next RECORD;
    own_hash BYTEA;
BEGIN
    FOR entry IN SELECT * FROM "audit_events" ORDER BY "id" LOOP
        next := ipdr_chain_next('audit', entry."context_id");
        own_hash := sha256(next.prev_hash || convert_to(ipdr_audit_event_content(entry::"audit_events"), 'UTF8'));
        UPDATE "audit_events" SET "chain_seq" = next.seq, "prev_hash" = next.prev_hash, "hash" = own_hash WHERE "id" = entry."id";
        UPDATE "log_chain_heads" SET "seq" = next.seq, "hash" = own_hash WHERE "log" = 'audit' AND "context_id" = entry."context_id";
    END LOOP;
    FOR entry IN SELECT * FROM "lookup_log" ORDER BY "id" LOOP
        next := ipdr_chain_next('lookup', entry."context_id");
        own_hash := sha256(next.prev_hash || convert_to(ipdr_lookup_log_content(entry::"lookup_log"), 'UTF8'));
        UPDATE "lookup_log" SET "chain_seq" = next.seq, "prev_hash" = next.prev_hash, "hash" = own_hash WHERE "id" = entry."id";
        UPDATE "log_chain_heads" SET "seq" = next.seq, "hash" = own_hash WHERE "log" = 'lookup' AND "context_id" = entry."context_id";
    END LOOP;
END
$$;
