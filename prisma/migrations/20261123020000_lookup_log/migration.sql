-- Lookups made with a reason (a case reference): who asked what, when, and why.

CREATE TABLE "lookup_log" (
    "id" BIGSERIAL PRIMARY KEY,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "username" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "lookups" INTEGER NOT NULL,
    "detail" JSONB NOT NULL
);
CREATE INDEX "lookup_log_context_id_at_idx" ON "lookup_log" ("context_id", "at");
CREATE INDEX "lookup_log_reason_idx" ON "lookup_log" ("reason");
