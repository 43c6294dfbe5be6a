-- RADIUS accounting (issue 16). A session's addresses are mappings like any other, in
-- ipdr_customers_mapping: the non-overlap constraint keeps one owner per address per instant
-- across static mappings and sessions alike, and every lookup answers from one index. The session
-- itself (what the NAS reported) lives beside them in radius_sessions; a Start refused because a
-- static mapping holds its address is kept in radius_conflicts for an operator to see.

-- Where a record came from. Rows written before this migration came through the GraphQL API.
ALTER TABLE "ipdr_customers"
    ADD COLUMN "source" TEXT NOT NULL DEFAULT 'API',
    ADD CONSTRAINT "ipdr_customers_source_check" CHECK ("source" IN ('API', 'REST', 'CSV', 'RADIUS'));

CREATE TABLE "radius_sessions" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- FreeRADIUS's acct_unique: MD5 (hex) of User-Name, Acct-Session-Id, the NAS and its port.
    "session_key" CHAR(32) NOT NULL,
    "user_name" TEXT NOT NULL,
    "acct_session_id" TEXT NOT NULL,
    -- `address/identifier` of the NAS: Accounting-On/Off end the open sessions of that key.
    "nas_key" TEXT NOT NULL,
    "nas_ip_address" TEXT,
    "nas_identifier" TEXT,
    "nas_port_id" TEXT,
    "calling_station_id" TEXT,
    -- Unix seconds, as the mappings' times.
    "started_at" BIGINT NOT NULL,
    "last_seen" BIGINT NOT NULL,
    "ended_at" BIGINT,
    "end_kind" TEXT,
    "terminate_cause" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "radius_sessions_end_kind_check"
        CHECK ("end_kind" IN ('REPORTED', 'NAS_RESTARTED', 'SUPERSEDED', 'ADDRESS_CHANGED', 'TIMED_OUT'))
);
CREATE UNIQUE INDEX "radius_sessions_context_id_session_key_key" ON "radius_sessions" ("context_id", "session_key");
-- Target of the mappings' key to their session: a mapping's session is in the mapping's context.
CREATE UNIQUE INDEX "radius_sessions_id_context_id_key" ON "radius_sessions" ("id", "context_id");
-- What an event batch reads besides its sessions' keys: the open sessions of a NAS (Accounting-On/
-- Off) and those silent too long (the timeout sweep). Ended sessions, nearly all of them, stay out.
CREATE INDEX "radius_sessions_open_nas_key_idx" ON "radius_sessions" ("context_id", "nas_key") WHERE "ended_at" IS NULL;
CREATE INDEX "radius_sessions_open_last_seen_idx" ON "radius_sessions" ("context_id", "last_seen") WHERE "ended_at" IS NULL;
CREATE INDEX "radius_sessions_context_id_user_name_idx" ON "radius_sessions" ("context_id", "user_name");

ALTER TABLE "ipdr_customers_mapping"
    ADD COLUMN "source" TEXT NOT NULL DEFAULT 'API',
    ADD COLUMN "radius_session_id" INTEGER,
    -- How a session's mapping ended (null while open, and for every static mapping).
    ADD COLUMN "end_kind" TEXT,
    ADD CONSTRAINT "ipdr_customers_mapping_source_check" CHECK ("source" IN ('API', 'REST', 'CSV', 'RADIUS')),
    ADD CONSTRAINT "ipdr_customers_mapping_end_kind_check"
        CHECK ("end_kind" IN ('REPORTED', 'NAS_RESTARTED', 'SUPERSEDED', 'ADDRESS_CHANGED', 'TIMED_OUT')),
    -- A RADIUS mapping belongs to a session, and only a RADIUS mapping does.
    ADD CONSTRAINT "ipdr_customers_mapping_radius_session_check" CHECK (("source" = 'RADIUS') = ("radius_session_id" IS NOT NULL)),
    ADD CONSTRAINT "ipdr_customers_mapping_end_kind_ended_check" CHECK ("end_kind" IS NULL OR "endtime" IS NOT NULL),
    ADD CONSTRAINT "ipdr_customers_mapping_radius_session_fkey"
        FOREIGN KEY ("radius_session_id", "context_id") REFERENCES "radius_sessions" ("id", "context_id")
        ON DELETE RESTRICT ON UPDATE CASCADE;
-- A session's mappings, read with the session by every event of it.
CREATE INDEX "ipdr_customers_mapping_radius_session_id_idx" ON "ipdr_customers_mapping" ("radius_session_id")
    WHERE "radius_session_id" IS NOT NULL;

-- A session's address that another holder already had: nothing overlapping was written, the NAS
-- was answered (it must not retransmit forever), and this row says what happened. mapping_id is
-- no foreign key: the record outlives the mapping it names.
CREATE TABLE "radius_conflicts" (
    "id" SERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "radius_session_id" INTEGER NOT NULL,
    "network" INET NOT NULL,
    "ipsubnet" TEXT NOT NULL,
    "starttime" BIGINT NOT NULL,
    "endtime" BIGINT,
    "mapping_id" INTEGER NOT NULL,
    "holder_user_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "radius_conflicts_kind_check" CHECK ("kind" IN ('STATIC_MAPPING', 'SESSION')),
    CONSTRAINT "radius_conflicts_radius_session_fkey"
        FOREIGN KEY ("radius_session_id", "context_id") REFERENCES "radius_sessions" ("id", "context_id")
        ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "radius_conflicts_context_id_recorded_at_idx" ON "radius_conflicts" ("context_id", "recorded_at");
CREATE INDEX "radius_conflicts_radius_session_id_idx" ON "radius_conflicts" ("radius_session_id");
