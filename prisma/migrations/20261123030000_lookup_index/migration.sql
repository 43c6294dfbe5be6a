-- Point lookups ("who held this IP at that instant") probe a B-tree once per prefix length in
-- use: the mapping of that exact network that started last before the instant. Mappings of one
-- network never overlap in time, so that is the only candidate; exact for IPv4 and IPv6, and far
-- cheaper than searching the GiST index of the non-overlap constraint.

CREATE INDEX "ipdr_customers_mapping_lookup_idx" ON "ipdr_customers_mapping" ("context_id", "network", "starttime");

-- The prefix lengths in use per context and family, kept by triggers (a stale length left by a
-- deleted mapping only costs a probe).
CREATE TABLE "mapping_prefix_lengths" (
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    "family" SMALLINT NOT NULL,
    "prefix_length" SMALLINT NOT NULL,
    CONSTRAINT "mapping_prefix_lengths_pkey" PRIMARY KEY ("context_id", "family", "prefix_length")
);

INSERT INTO "mapping_prefix_lengths"
SELECT DISTINCT "context_id", family("network"), masklen("network") FROM "ipdr_customers_mapping";

CREATE FUNCTION "note_mapping_prefix_lengths"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "mapping_prefix_lengths"
    SELECT DISTINCT "context_id", family("network"), masklen("network") FROM "changed_mappings"
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER "ipdr_customers_mapping_prefix_lengths_insert"
    AFTER INSERT ON "ipdr_customers_mapping"
    REFERENCING NEW TABLE AS "changed_mappings"
    FOR EACH STATEMENT EXECUTE FUNCTION "note_mapping_prefix_lengths"();

CREATE TRIGGER "ipdr_customers_mapping_prefix_lengths_update"
    AFTER UPDATE ON "ipdr_customers_mapping"
    REFERENCING NEW TABLE AS "changed_mappings"
    FOR EACH STATEMENT EXECUTE FUNCTION "note_mapping_prefix_lengths"();
