-- ipHistory as known at a past instant (asOf) reads the replaced versions of mappings by address
-- as it reads the current ones: by the first address's key within a context.
CREATE INDEX "ipdr_customers_mapping_history_ip_first_idx" ON "ipdr_customers_mapping_history" ("context_id", "ip_first");
