-- Core tables. Hand-written (Prisma's schema engine cannot run on every machine we deploy to);
-- prisma/schema.prisma describes the same columns and test/db/schema-drift.test.ts checks it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE "contexts" (
    "id" SERIAL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "contexts_name_not_blank" CHECK (btrim("name") <> '')
);
CREATE UNIQUE INDEX "contexts_name_key" ON "contexts" ("name");

INSERT INTO "contexts" ("name") VALUES ('default');

CREATE TABLE "ipdr_customers" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "user_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "address" TEXT,
    "email" TEXT,
    "phone_number" TEXT,
    "alt_phone_number" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "ipdr_customers_user_id_not_blank" CHECK (btrim("user_id") <> ''),
    CONSTRAINT "ipdr_customers_name_not_blank" CHECK (btrim("name") <> '')
);
CREATE UNIQUE INDEX "ipdr_customers_context_id_user_id_key" ON "ipdr_customers" ("context_id", "user_id");
-- Target of the mappings' composite foreign key: a mapping's context is its customer's context.
CREATE UNIQUE INDEX "ipdr_customers_id_context_id_key" ON "ipdr_customers" ("id", "context_id");

CREATE TABLE "ipdr_customers_mapping" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "ipdr_customer_id" INTEGER NOT NULL REFERENCES "ipdr_customers" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "ipsubnet" TEXT NOT NULL,
    "network" INET NOT NULL,
    "ip_first" TEXT COLLATE "C" NOT NULL,
    "ip_last" TEXT COLLATE "C" NOT NULL,
    "starttime" BIGINT NOT NULL,
    "endtime" BIGINT,
    "terminalid" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "ipdr_customers_mapping_customer_context_fkey"
        FOREIGN KEY ("ipdr_customer_id", "context_id") REFERENCES "ipdr_customers" ("id", "context_id"),
    -- 253402300799 is 9999-12-31T23:59:59Z, the largest time the API accepts.
    CONSTRAINT "ipdr_customers_mapping_starttime_range" CHECK ("starttime" BETWEEN 0 AND 253402300799),
    CONSTRAINT "ipdr_customers_mapping_endtime_range" CHECK ("endtime" IS NULL OR ("endtime" >= "starttime" AND "endtime" <= 253402300799)),
    -- The network is stored without host bits; the text as sent lives in ipsubnet.
    CONSTRAINT "ipdr_customers_mapping_network_is_network" CHECK ("network" = network("network")),
    -- One owner per address per instant: no two mappings of a context may share an address at an
    -- instant. Times are inclusive ([starttime, endtime]); a NULL endtime is an open upper bound.
    CONSTRAINT "ipdr_customers_mapping_no_overlap" EXCLUDE USING gist (
        "context_id" WITH =,
        "network" inet_ops WITH &&,
        int8range("starttime", "endtime", '[]') WITH &&
    )
);
CREATE INDEX "ipdr_customers_mapping_ipdr_customer_id_idx" ON "ipdr_customers_mapping" ("ipdr_customer_id");
CREATE INDEX "ipdr_customers_mapping_context_id_ip_first_idx" ON "ipdr_customers_mapping" ("context_id", "ip_first");

CREATE TABLE "audit_events" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" INTEGER NOT NULL,
    "before" JSONB,
    "after" JSONB
);
CREATE INDEX "audit_events_context_id_entity_type_entity_id_idx" ON "audit_events" ("context_id", "entity_type", "entity_id");
