-- Retention (issue 19): how long a context keeps its IPDR records, and a record of every purge.
-- A context without a policy keeps everything (the default). ipdr-admin retention apply, or the
-- server every RETENTION_APPLY_INTERVAL, deletes what ended before the horizon (now minus `keep`).
CREATE TABLE "retention_policies" (
    "context_id" INTEGER PRIMARY KEY REFERENCES "contexts" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    -- A calendar interval ('2 years', '18 mons', '90 days'): the horizon moves with the calendar.
    "keep" INTERVAL NOT NULL CONSTRAINT "retention_policies_keep_check" CHECK ("keep" >= INTERVAL '1 day'),
    "set_by" TEXT NOT NULL,
    "set_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- What each purge removed: kept for as long as the context (a purge is itself never purged).
CREATE TABLE "retention_purges" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "at" TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
    "actor" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "keep" INTERVAL NOT NULL,
    -- Unix seconds: records that ended before it, and log entries made before it, were deleted.
    "horizon" BIGINT NOT NULL,
    "mappings" INTEGER NOT NULL,
    "mapping_versions" INTEGER NOT NULL,
    "customers" INTEGER NOT NULL,
    "customer_versions" INTEGER NOT NULL,
    "nat_bindings" INTEGER NOT NULL,
    "nat_binding_versions" INTEGER NOT NULL,
    "radius_sessions" INTEGER NOT NULL,
    "audit_events" INTEGER NOT NULL,
    "lookup_log_entries" INTEGER NOT NULL
);
CREATE INDEX "retention_purges_context_id_at_idx" ON "retention_purges" ("context_id", "at");

-- A purge deletes versions for good: its deletes are not moved to the history. The purge sets
-- ipdr.purging for its own transaction only (set_config(..., true)); nothing else sets it.
CREATE OR REPLACE FUNCTION "ipdr_customers_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ipdr.purging', true) = 'on' THEN RETURN NULL; END IF;
    INSERT INTO "ipdr_customers_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION "ipdr_customers_mapping_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ipdr.purging', true) = 'on' THEN RETURN NULL; END IF;
    INSERT INTO "ipdr_customers_mapping_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION "nat_port_blocks_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ipdr.purging', true) = 'on' THEN RETURN NULL; END IF;
    INSERT INTO "nat_port_blocks_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
