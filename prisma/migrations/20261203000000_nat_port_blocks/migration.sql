-- Carrier-grade NAT (issue 17). A public IPv4 address shared by many subscribers is held port by
-- port: a port-block binding holds a block of its ports for a while, on behalf of an inside address
-- looked up in turn (a RADIUS session, a static mapping). A deterministic rule (RFC 7422) holds its
-- whole outside prefix for its period and names the inside address of each (address, port) by
-- arithmetic. The one-owner rule becomes one holder per (context, address, port, instant), where a
-- mapping (every static or RADIUS one) holds every port of its addresses.
--
-- How the database keeps it:
-- - binding against binding: an exclusion constraint, the mappings' box encoding (box_exclusion
--   migration) over the public address and period, and a second box over the ports;
-- - rule against rule: an exclusion constraint over the outside prefix and period;
-- - the kinds against each other (mapping/binding/rule): triggers under one advisory lock per
--   context, which NAT writers take exclusively (before each row) and mapping writers shared (after
--   their statement's rows), each checking in a snapshot taken after the lock is granted (every query of a PL/pgSQL function takes its own under
--   READ COMMITTED). Whichever commits first is seen by the other, so racing writers cannot both win.

-- The ports a binding holds, as a box the exclusion's GiST index compares (x = first..last).
CREATE FUNCTION "ipdr_port_span"("first" integer, "last" integer) RETURNS box
    IMMUTABLE PARALLEL SAFE LANGUAGE sql
    AS $$ SELECT box(point("first", 0), point("last", 0)) $$;

CREATE TABLE "nat_port_blocks" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "public_address" INET NOT NULL,
    "port_first" INTEGER NOT NULL,
    "port_last" INTEGER NOT NULL,
    -- Unix seconds, inclusive, as the mappings' times.
    "starttime" BIGINT NOT NULL,
    "endtime" BIGINT,
    -- RELEASED by its RELEASE (or ended through the API); SUPERSEDED, inferred: its block was allocated again.
    "end_kind" TEXT,
    -- The RELEASE's own time, kept where the end had to stop short of the block's next holder.
    "released_at" BIGINT,
    -- The last ALLOC or INTERIM that spoke of it.
    "last_seen" BIGINT NOT NULL,
    "inside_address" INET NOT NULL,
    "inside_context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "source" TEXT NOT NULL,
    -- The sending device's address (syslog) or the file's name (import).
    "device" TEXT,
    -- The log line that opened it, as received.
    "raw_line" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "nat_port_blocks_public_address_check"
        CHECK (family("public_address") = 4 AND masklen("public_address") = 32),
    CONSTRAINT "nat_port_blocks_inside_address_check"
        CHECK (masklen("inside_address") = CASE family("inside_address") WHEN 4 THEN 32 ELSE 128 END),
    CONSTRAINT "nat_port_blocks_ports_check" CHECK (0 <= "port_first" AND "port_first" <= "port_last" AND "port_last" <= 65535),
    CONSTRAINT "nat_port_blocks_times_check"
        CHECK ("starttime" >= 0 AND "starttime" <= 253402300799 AND ("endtime" IS NULL OR ("endtime" >= "starttime" AND "endtime" <= 253402300799))),
    CONSTRAINT "nat_port_blocks_end_kind_check" CHECK ("end_kind" IN ('RELEASED', 'SUPERSEDED')),
    CONSTRAINT "nat_port_blocks_end_kind_ended_check" CHECK ("end_kind" IS NULL OR "endtime" IS NOT NULL),
    CONSTRAINT "nat_port_blocks_source_check" CHECK ("source" IN ('SYSLOG', 'FILE', 'API')),
    -- Also what lookups probe: (address, instant) and a port, or every block of an address at an instant.
    CONSTRAINT "nat_port_blocks_no_overlap" EXCLUDE USING gist (
        ipdr_mapping_extent("context_id", "public_address", "starttime", "endtime") WITH &&,
        ipdr_port_span("port_first", "port_last") WITH &&
    )
);
-- The bindings an event batch speaks of: those of its blocks' addresses, by block and start.
CREATE INDEX "nat_port_blocks_block_idx" ON "nat_port_blocks" ("context_id", "public_address", "port_first", "starttime");
CREATE INDEX "nat_port_blocks_inside_idx" ON "nat_port_blocks" ("inside_context_id", "inside_address", "starttime");

CREATE TABLE "nat_rules" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "inside_prefix" INET NOT NULL,
    "outside_prefix" INET NOT NULL,
    "first_port" INTEGER NOT NULL,
    "ports_per_host" INTEGER NOT NULL,
    "starttime" BIGINT NOT NULL,
    "endtime" BIGINT,
    "inside_context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "description" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- Both prefixes canonical networks (no host bits), IPv4, the inside one no smaller than the outside one.
    CONSTRAINT "nat_rules_prefixes_check" CHECK (
        family("inside_prefix") = 4 AND family("outside_prefix") = 4
        AND "inside_prefix" = network("inside_prefix") AND "outside_prefix" = network("outside_prefix")
        AND masklen("inside_prefix") <= masklen("outside_prefix")),
    -- Every host's block within its outside address's ports (domain/nat.ts deterministicNatRule).
    CONSTRAINT "nat_rules_ports_check" CHECK (
        "first_port" BETWEEN 0 AND 65535 AND "ports_per_host" >= 1
        AND "ports_per_host"::bigint * (1::bigint << (masklen("outside_prefix") - masklen("inside_prefix"))) <= 65536 - "first_port"),
    CONSTRAINT "nat_rules_times_check"
        CHECK ("starttime" >= 0 AND "starttime" <= 253402300799 AND ("endtime" IS NULL OR ("endtime" >= "starttime" AND "endtime" <= 253402300799))),
    CONSTRAINT "nat_rules_no_overlap" EXCLUDE USING gist (
        ipdr_mapping_extent("context_id", "outside_prefix", "starttime", "endtime") WITH &&
    )
);

-- Lines a sender sent that could not be read: kept for an operator to review, never guessed at.
CREATE TABLE "nat_unparsable_lines" (
    "id" BIGSERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "source" TEXT NOT NULL,
    "device" TEXT,
    "received_at" BIGINT NOT NULL,
    "line" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "nat_unparsable_lines_source_check" CHECK ("source" IN ('SYSLOG', 'FILE', 'API'))
);
CREATE INDEX "nat_unparsable_lines_context_id_id_idx" ON "nat_unparsable_lines" ("context_id", "id");

-- pg_advisory_xact_lock(NAT class, context): 0x4E415448, "NATH". The RADIUS writers' class is another.
CREATE FUNCTION "ipdr_nat_lock_class"() RETURNS integer IMMUTABLE LANGUAGE sql AS $$ SELECT 1312904264 $$;

-- Raised as an exclusion violation (23P01), as the constraints are: writers already treat it as "in the way".
CREATE FUNCTION "ipdr_nat_clash"("what" text, "holder" text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% overlaps %', "what", "holder"
        USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'nat_holders_no_overlap';
END $$;

-- After a statement writes mappings: none of their IPv4 ones may share an address and an instant
-- with a binding or a rule of their context.
CREATE FUNCTION "ipdr_mappings_check_nat"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    "context" integer;
    "clash" record;
BEGIN
    FOR "context" IN SELECT DISTINCT "context_id" FROM "written" WHERE family("network") = 4 ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(ipdr_nat_lock_class(), "context");
    END LOOP;
    IF NOT FOUND THEN RETURN NULL; END IF;
    SELECT w."id", w."network", b."id" AS "binding_id", b."public_address", b."port_first", b."port_last", b."starttime", b."endtime"
        INTO "clash"
        FROM "written" w JOIN "nat_port_blocks" b
          ON ipdr_mapping_extent(b."context_id", b."public_address", b."starttime", b."endtime")
             && ipdr_mapping_extent(w."context_id", w."network", w."starttime", w."endtime")
        WHERE family(w."network") = 4 LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('mapping %s (%s)', "clash"."id", abbrev("clash"."network")),
            format('NAT port block %s (%s ports %s-%s, %s to %s)', "clash"."binding_id", host("clash"."public_address"),
                "clash"."port_first", "clash"."port_last", "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    SELECT w."id", w."network", r."id" AS "rule_id", r."outside_prefix", r."starttime", r."endtime"
        INTO "clash"
        FROM "written" w JOIN "nat_rules" r
          ON ipdr_mapping_extent(r."context_id", r."outside_prefix", r."starttime", r."endtime")
             && ipdr_mapping_extent(w."context_id", w."network", w."starttime", w."endtime")
        WHERE family(w."network") = 4 LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('mapping %s (%s)', "clash"."id", abbrev("clash"."network")),
            format('deterministic NAT rule %s (outside %s, %s to %s)', "clash"."rule_id", abbrev("clash"."outside_prefix"),
                "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER "ipdr_customers_mapping_insert_check_nat" AFTER INSERT ON "ipdr_customers_mapping"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_mappings_check_nat();
CREATE TRIGGER "ipdr_customers_mapping_update_check_nat" AFTER UPDATE ON "ipdr_customers_mapping"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_mappings_check_nat();

-- A NAT writer takes its context's lock before its row reaches the indexes: one waiting there on
-- another writer's uncommitted row while holding the lock that writer needs would deadlock.
CREATE FUNCTION "ipdr_nat_lock_context"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(ipdr_nat_lock_class(), NEW."context_id");
    RETURN NEW;
END $$;

CREATE TRIGGER "nat_port_blocks_lock_context" BEFORE INSERT OR UPDATE ON "nat_port_blocks"
    FOR EACH ROW EXECUTE FUNCTION ipdr_nat_lock_context();
CREATE TRIGGER "nat_rules_lock_context" BEFORE INSERT OR UPDATE ON "nat_rules"
    FOR EACH ROW EXECUTE FUNCTION ipdr_nat_lock_context();

-- After a statement writes bindings: none may share an address and an instant with a mapping or a
-- rule of its context (bindings among themselves: the exclusion constraint).
CREATE FUNCTION "ipdr_port_blocks_check_holders"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    "clash" record;
BEGIN
    SELECT w."id", w."public_address", w."port_first", w."port_last", m."id" AS "mapping_id", m."ipsubnet", m."user_id", m."starttime", m."endtime"
        INTO "clash"
        FROM "written" w JOIN "ipdr_customers_mapping" m
          ON ipdr_mapping_extent(m."context_id", m."network", m."starttime", m."endtime")
             && ipdr_mapping_extent(w."context_id", w."public_address", w."starttime", w."endtime")
         AND ipdr_mapping_low_bits(m."network") && ipdr_mapping_low_bits(w."public_address")
        LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('NAT port block %s (%s ports %s-%s)', "clash"."id", host("clash"."public_address"), "clash"."port_first", "clash"."port_last"),
            format('mapping %s (%s of UserID %s, %s to %s)', "clash"."mapping_id", "clash"."ipsubnet", "clash"."user_id",
                "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    SELECT w."id", w."public_address", w."port_first", w."port_last", r."id" AS "rule_id", r."outside_prefix", r."starttime", r."endtime"
        INTO "clash"
        FROM "written" w JOIN "nat_rules" r
          ON ipdr_mapping_extent(r."context_id", r."outside_prefix", r."starttime", r."endtime")
             && ipdr_mapping_extent(w."context_id", w."public_address", w."starttime", w."endtime")
        LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('NAT port block %s (%s ports %s-%s)', "clash"."id", host("clash"."public_address"), "clash"."port_first", "clash"."port_last"),
            format('deterministic NAT rule %s (outside %s, %s to %s)', "clash"."rule_id", abbrev("clash"."outside_prefix"),
                "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER "nat_port_blocks_insert_check_holders" AFTER INSERT ON "nat_port_blocks"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_port_blocks_check_holders();
CREATE TRIGGER "nat_port_blocks_update_check_holders" AFTER UPDATE ON "nat_port_blocks"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_port_blocks_check_holders();

-- After a statement writes rules: none may share an address and an instant with a mapping or a
-- binding of its context (rules among themselves: the exclusion constraint).
CREATE FUNCTION "ipdr_nat_rules_check_holders"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    "clash" record;
BEGIN
    SELECT w."id", w."outside_prefix", m."id" AS "mapping_id", m."ipsubnet", m."user_id", m."starttime", m."endtime"
        INTO "clash"
        FROM "written" w JOIN "ipdr_customers_mapping" m
          ON ipdr_mapping_extent(m."context_id", m."network", m."starttime", m."endtime")
             && ipdr_mapping_extent(w."context_id", w."outside_prefix", w."starttime", w."endtime")
         AND ipdr_mapping_low_bits(m."network") && ipdr_mapping_low_bits(w."outside_prefix")
        LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('deterministic NAT rule %s (outside %s)', "clash"."id", abbrev("clash"."outside_prefix")),
            format('mapping %s (%s of UserID %s, %s to %s)', "clash"."mapping_id", "clash"."ipsubnet", "clash"."user_id",
                "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    SELECT w."id", w."outside_prefix", b."id" AS "binding_id", b."public_address", b."port_first", b."port_last", b."starttime", b."endtime"
        INTO "clash"
        FROM "written" w JOIN "nat_port_blocks" b
          ON ipdr_mapping_extent(b."context_id", b."public_address", b."starttime", b."endtime")
             && ipdr_mapping_extent(w."context_id", w."outside_prefix", w."starttime", w."endtime")
        LIMIT 1;
    IF FOUND THEN
        PERFORM ipdr_nat_clash(format('deterministic NAT rule %s (outside %s)', "clash"."id", abbrev("clash"."outside_prefix")),
            format('NAT port block %s (%s ports %s-%s, %s to %s)', "clash"."binding_id", host("clash"."public_address"),
                "clash"."port_first", "clash"."port_last", "clash"."starttime", coalesce("clash"."endtime"::text, 'ongoing')));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER "nat_rules_insert_check_holders" AFTER INSERT ON "nat_rules"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_nat_rules_check_holders();
CREATE TRIGGER "nat_rules_update_check_holders" AFTER UPDATE ON "nat_rules"
    REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION ipdr_nat_rules_check_holders();

