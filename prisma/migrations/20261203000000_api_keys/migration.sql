-- API keys: who may call the API. Only a SHA-256 hash of each key is kept (the key itself is shown once, when made);
-- `prefix` is a short, non-secret start of the key to recognise it by in lists.
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "role" TEXT NOT NULL,
    "rm_id" TEXT,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "revoked_at" TIMESTAMP(3),
    "last_used_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
