-- A mapping keeps its customer's UserID, and the lookup index carries it: a lookup asking who
-- held an address (the customer's UserID, which is what a report attributes it to) is then an
-- index-only probe with no customer probe after it (measured on 1M mappings: a third of the
-- lookup statement's time). The foreign key now names the UserID too, with ON UPDATE CASCADE:
-- the database itself keeps every copy equal to the customer's, whichever way it changes.

ALTER TABLE "ipdr_customers_mapping" ADD COLUMN "user_id" TEXT;
UPDATE "ipdr_customers_mapping" m SET "user_id" = c."user_id" FROM "ipdr_customers" c WHERE c."id" = m."ipdr_customer_id";
ALTER TABLE "ipdr_customers_mapping" ALTER COLUMN "user_id" SET NOT NULL;

-- The new key's target replaces the old one's: (id) alone is already unique, so are both.
CREATE UNIQUE INDEX "ipdr_customers_id_context_id_user_id_key" ON "ipdr_customers" ("id", "context_id", "user_id");
ALTER TABLE "ipdr_customers_mapping" DROP CONSTRAINT "ipdr_customers_mapping_customer_context_fkey";
ALTER TABLE "ipdr_customers_mapping" ADD CONSTRAINT "ipdr_customers_mapping_customer_context_fkey"
    FOREIGN KEY ("ipdr_customer_id", "context_id", "user_id") REFERENCES "ipdr_customers" ("id", "context_id", "user_id")
    ON UPDATE CASCADE;
DROP INDEX "ipdr_customers_id_context_id_key";

DROP INDEX "ipdr_customers_mapping_lookup_idx";
CREATE INDEX "ipdr_customers_mapping_lookup_idx" ON "ipdr_customers_mapping" ("context_id", "network", "starttime")
    INCLUDE ("endtime", "id", "ipdr_customer_id", "user_id");
