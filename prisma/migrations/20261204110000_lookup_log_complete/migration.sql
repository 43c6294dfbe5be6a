-- A complete lookup log (issue 19): each entry keeps every lookup asked (detail.asked, no longer the
-- first 100 of a batch), SHA-256 digests of that list and of the answers given, and a single
-- whoHad's answer itself; `at` to the microsecond, the system instant the answers are re-derived
-- as known at (ipdr-admin case export). Entries written before this migration have no digests.
ALTER TABLE "lookup_log" ALTER COLUMN "at" TYPE TIMESTAMPTZ(6);
ALTER TABLE "lookup_log" ADD COLUMN "request_digest" TEXT;
ALTER TABLE "lookup_log" ADD COLUMN "answer_digest" TEXT;
ALTER TABLE "lookup_log" ADD COLUMN "answer" JSONB;
