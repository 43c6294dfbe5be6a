-- The live feed (GraphQL subscriptions): the audit trail's events in the order they became
-- visible, each at a position a subscriber can resume after.
--
-- An event's own id cannot be that position: ids are taken as rows are written, transactions
-- commit in another order, and a subscriber that had read id 11 would never be given id 10 of a
-- transaction that committed after it. So positions are given after the commit: ipdr_feed_assign
-- gives the next positions, in id order, to the events of every transaction that has ended since
-- it last ran, and to no event of a transaction still running (it is given its positions in a
-- later run, after those given now). A position once given is never followed by a smaller one.
CREATE TABLE "feed_events" (
    "seq" BIGSERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL,
    "entity_type" TEXT NOT NULL,
    "audit_event_id" INTEGER NOT NULL REFERENCES "audit_events" ("id") ON DELETE CASCADE
);
CREATE INDEX "feed_events_context_entity_seq_idx" ON "feed_events" ("context_id", "entity_type", "seq");
CREATE INDEX "feed_events_audit_event_idx" ON "feed_events" ("audit_event_id");

-- How far the assignment has gone: every transaction below scanned_to (a transaction id) has been
-- looked at, except those that were still running then (running), looked at again each run.
CREATE TABLE "feed_state" (
    "id" BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT "feed_state_one_row" CHECK ("id"),
    "scanned_to" BIGINT NOT NULL,
    "running" BIGINT[] NOT NULL
);
-- The feed starts now: what was written before is in the audit trail, not in the feed.
INSERT INTO "feed_state" ("scanned_to", "running")
SELECT pg_snapshot_xmax(s)::text::BIGINT, ARRAY(SELECT x::text::BIGINT FROM pg_snapshot_xip(s) x)
FROM pg_current_snapshot() s;

-- Gives positions to the events of the transactions that ended since the last run; returns the
-- last position given (by this run or before). One run at a time: a run that finds another one
-- under way returns at once (the other one gives the positions).
CREATE FUNCTION "ipdr_feed_assign"() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    -- Taken before anything else here, so that this transaction's own id is not among those seen.
    now_snapshot CONSTANT pg_snapshot := pg_current_snapshot();
    now_xmax CONSTANT BIGINT := pg_snapshot_xmax(now_snapshot)::text::BIGINT;
    now_running CONSTANT BIGINT[] := ARRAY(SELECT x::text::BIGINT FROM pg_snapshot_xip(now_snapshot) x);
    state RECORD;
BEGIN
    SELECT scanned_to, running INTO state FROM "feed_state" FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        INSERT INTO "feed_events" ("context_id", "entity_type", "audit_event_id")
        SELECT e.context_id, e.entity_type, e.id FROM "audit_events" e
        WHERE ((e.written_txid >= state.scanned_to AND e.written_txid < now_xmax) OR e.written_txid = ANY (state.running))
          AND NOT (e.written_txid = ANY (now_running))
        ORDER BY e.id;
        UPDATE "feed_state" SET scanned_to = greatest(now_xmax, state.scanned_to),
            running = ARRAY(SELECT DISTINCT t FROM unnest(state.running || now_running) t
                            WHERE t = ANY (now_running) AND (t = ANY (state.running) OR t >= state.scanned_to));
    END IF;
    RETURN (SELECT coalesce(max(seq), 0) FROM "feed_events");
END $$;
