-- A RADIUS session may report a public address that a carrier-grade NAT port block or rule holds
-- then: recorded as a conflict, as a static mapping in the way is, instead of failing the batch.
-- The holder is then the binding or rule (nat_holder_id, by kind), not a mapping; like mapping_id
-- it has no foreign key: the record outlives it.
ALTER TABLE "radius_conflicts"
    DROP CONSTRAINT "radius_conflicts_kind_check",
    ALTER COLUMN "mapping_id" DROP NOT NULL,
    ALTER COLUMN "holder_user_id" DROP NOT NULL,
    ADD COLUMN "nat_holder_id" INTEGER,
    ADD CONSTRAINT "radius_conflicts_kind_check" CHECK (
        ("kind" IN ('STATIC_MAPPING', 'SESSION') AND "mapping_id" IS NOT NULL AND "holder_user_id" IS NOT NULL AND "nat_holder_id" IS NULL)
        OR ("kind" IN ('NAT_BINDING', 'NAT_RULE') AND "nat_holder_id" IS NOT NULL AND "mapping_id" IS NULL AND "holder_user_id" IS NULL)
    );
