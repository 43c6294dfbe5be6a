-- API users, their per-context grants, and their tokens (stored only as SHA-256 hashes).

CREATE TABLE "api_users" (
    "id" SERIAL PRIMARY KEY,
    "username" TEXT NOT NULL,
    "is_admin" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "api_users_username_not_blank" CHECK (btrim("username") <> '')
);
CREATE UNIQUE INDEX "api_users_username_key" ON "api_users" ("username");

CREATE TABLE "api_grants" (
    "user_id" INTEGER NOT NULL REFERENCES "api_users" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    "context_id" INTEGER NOT NULL REFERENCES "contexts" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    "can_write" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "api_grants_pkey" PRIMARY KEY ("user_id", "context_id")
);

CREATE TABLE "api_tokens" (
    "id" SERIAL PRIMARY KEY,
    "user_id" INTEGER NOT NULL REFERENCES "api_users" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    -- SHA-256 of the token, hex. The token itself is shown once, at creation, and never stored.
    "token_hash" CHAR(64) NOT NULL,
    -- A few characters of each end, so an operator can tell tokens apart in a list.
    "hint" TEXT NOT NULL,
    "label" TEXT,
    "read_only" BOOLEAN NOT NULL DEFAULT false,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens" ("token_hash");
CREATE INDEX "api_tokens_user_id_idx" ON "api_tokens" ("user_id");
