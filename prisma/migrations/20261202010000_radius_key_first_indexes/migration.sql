-- A session's indexes lead with what picks it out, not with its context. Every statement on
-- radius_sessions names the context too, and a B-tree leading with context_id matches any of
-- them by that prefix alone. Until a table has statistics (a new deployment, the first minutes of
-- a load) the planner takes a context's rows to be a few, and chose such an index for lookups by
-- id, among them the foreign-key checks of every mapping a Start writes, whose plan each
-- connection keeps: each check then read every session of the context.
DROP INDEX "radius_sessions_context_id_session_key_key";
CREATE UNIQUE INDEX "radius_sessions_session_key_context_id_key" ON "radius_sessions" ("session_key", "context_id");
DROP INDEX "radius_sessions_context_id_user_name_idx";
CREATE INDEX "radius_sessions_user_name_context_id_idx" ON "radius_sessions" ("user_name", "context_id");
