-- System versioning (issue 19): what the records said at any past moment, kept by the database in
-- the transaction of each change, so a lookup can be answered "as known at" a time before later
-- corrections and deletions.
--
-- Each versioned table keeps its current rows where they are, each with sys_from: when this version
-- of the row became the record (the writing transaction's start, now()). An update or a delete
-- moves the version it replaces to <table>_history with sys_to, when it stopped being the record.
-- The records as they stood at instant X are the current rows with sys_from <= X and the history
-- rows with sys_from <= X < sys_to. A version written and replaced inside one transaction was never
-- seen by anyone and is not kept.
--
-- A history table has its table's columns in the same order, then sys_to (the triggers copy whole
-- rows): a migration adding a column to one adds it to the other (test/db/schema-drift.test.ts).
-- Rows that existed before this migration are versioned from this migration on; "as known at"
-- before it is refused (system_versioning.started_at).

CREATE TABLE "system_versioning" ("started_at" TIMESTAMPTZ NOT NULL);
INSERT INTO "system_versioning" VALUES (now());

ALTER TABLE "ipdr_customers" ADD COLUMN "sys_from" TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE "ipdr_customers_mapping" ADD COLUMN "sys_from" TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE "nat_port_blocks" ADD COLUMN "sys_from" TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE "nat_rules" ADD COLUMN "sys_from" TIMESTAMPTZ NOT NULL DEFAULT now();

CREATE TABLE "ipdr_customers_history" (LIKE "ipdr_customers");
CREATE TABLE "ipdr_customers_mapping_history" (LIKE "ipdr_customers_mapping");
CREATE TABLE "nat_port_blocks_history" (LIKE "nat_port_blocks");
CREATE TABLE "nat_rules_history" (LIKE "nat_rules");
ALTER TABLE "ipdr_customers_history" ADD COLUMN "sys_to" TIMESTAMPTZ NOT NULL;
ALTER TABLE "ipdr_customers_mapping_history" ADD COLUMN "sys_to" TIMESTAMPTZ NOT NULL;
ALTER TABLE "nat_port_blocks_history" ADD COLUMN "sys_to" TIMESTAMPTZ NOT NULL;
ALTER TABLE "nat_rules_history" ADD COLUMN "sys_to" TIMESTAMPTZ NOT NULL;

-- An "as known at" lookup probes the current rows and the history as a current lookup probes the
-- current rows (lookup_index migration): both indexes carry what the probe filters on, sys_from
-- (and sys_to), so each stays an index-only scan.
DROP INDEX "ipdr_customers_mapping_lookup_idx";
CREATE INDEX "ipdr_customers_mapping_lookup_idx" ON "ipdr_customers_mapping" ("context_id", "network", "starttime")
    INCLUDE ("endtime", "id", "ipdr_customer_id", "user_id", "sys_from");
CREATE INDEX "ipdr_customers_mapping_history_lookup_idx" ON "ipdr_customers_mapping_history" ("context_id", "network", "starttime")
    INCLUDE ("endtime", "id", "ipdr_customer_id", "user_id", "sys_from", "sys_to");
CREATE INDEX "ipdr_customers_mapping_history_id_idx" ON "ipdr_customers_mapping_history" ("id", "sys_from");
CREATE INDEX "ipdr_customers_history_id_idx" ON "ipdr_customers_history" ("id", "sys_from");
-- The NAT tables are searched by their exclusion constraints' boxes (box_exclusion migration).
CREATE INDEX "nat_port_blocks_history_extent_idx" ON "nat_port_blocks_history" USING gist (
    ipdr_mapping_extent("context_id", "public_address", "starttime", "endtime"),
    ipdr_port_span("port_first", "port_last"));
CREATE INDEX "nat_rules_history_extent_idx" ON "nat_rules_history" USING gist (
    ipdr_mapping_extent("context_id", "outside_prefix", "starttime", "endtime"));

-- A new version's system time. Only on update: an insert takes the column's default. Never before
-- the version it replaces: a transaction that started before the one that wrote that version, and
-- updates the row after it committed, would otherwise give the row a version ending before it began
-- (the replaced version, never then the record at any instant, is not kept: below).
CREATE FUNCTION "ipdr_version_row"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."sys_from" := greatest(now(), OLD."sys_from");
    RETURN NEW;
END $$;

-- The versions a statement replaced, moved to the history once per statement.
CREATE FUNCTION "ipdr_customers_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "ipdr_customers_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
CREATE FUNCTION "ipdr_customers_mapping_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "ipdr_customers_mapping_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
CREATE FUNCTION "nat_port_blocks_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "nat_port_blocks_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;
CREATE FUNCTION "nat_rules_keep_history"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "nat_rules_history" SELECT o.*, now() FROM "replaced" o WHERE o."sys_from" < now();
    RETURN NULL;
END $$;

CREATE TRIGGER "ipdr_customers_version" BEFORE UPDATE ON "ipdr_customers"
    FOR EACH ROW EXECUTE FUNCTION ipdr_version_row();
CREATE TRIGGER "ipdr_customers_history_update" AFTER UPDATE ON "ipdr_customers"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_customers_keep_history();
CREATE TRIGGER "ipdr_customers_history_delete" AFTER DELETE ON "ipdr_customers"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_customers_keep_history();

CREATE TRIGGER "ipdr_customers_mapping_version" BEFORE UPDATE ON "ipdr_customers_mapping"
    FOR EACH ROW EXECUTE FUNCTION ipdr_version_row();
CREATE TRIGGER "ipdr_customers_mapping_history_update" AFTER UPDATE ON "ipdr_customers_mapping"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_customers_mapping_keep_history();
CREATE TRIGGER "ipdr_customers_mapping_history_delete" AFTER DELETE ON "ipdr_customers_mapping"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_customers_mapping_keep_history();

CREATE TRIGGER "nat_port_blocks_version" BEFORE UPDATE ON "nat_port_blocks"
    FOR EACH ROW EXECUTE FUNCTION ipdr_version_row();
CREATE TRIGGER "nat_port_blocks_history_update" AFTER UPDATE ON "nat_port_blocks"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION nat_port_blocks_keep_history();
CREATE TRIGGER "nat_port_blocks_history_delete" AFTER DELETE ON "nat_port_blocks"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION nat_port_blocks_keep_history();

CREATE TRIGGER "nat_rules_version" BEFORE UPDATE ON "nat_rules"
    FOR EACH ROW EXECUTE FUNCTION ipdr_version_row();
CREATE TRIGGER "nat_rules_history_update" AFTER UPDATE ON "nat_rules"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION nat_rules_keep_history();
CREATE TRIGGER "nat_rules_history_delete" AFTER DELETE ON "nat_rules"
    REFERENCING OLD TABLE AS "replaced" FOR EACH STATEMENT EXECUTE FUNCTION nat_rules_keep_history();
