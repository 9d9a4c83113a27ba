-- Migrations of running journeys to a new definition version (issue 11): the request and, per journey, its outcome.
CREATE TABLE "journey_migrations" (
    "id" TEXT NOT NULL,
    "journey_key" TEXT NOT NULL,
    "from_version" INTEGER NOT NULL,
    "to_version" INTEGER NOT NULL,
    "map" JSONB NOT NULL DEFAULT '{}',
    "filter" JSONB NOT NULL DEFAULT '{}',
    "status" TEXT NOT NULL DEFAULT 'running',
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "journey_migrations_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "journey_migrations_journey_key_idx" ON "journey_migrations"("journey_key");

CREATE TABLE "journey_migration_items" (
    "migration_id" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "journey_migration_items_pkey" PRIMARY KEY ("migration_id", "workflow_id")
);
CREATE INDEX "journey_migration_items_migration_id_status_idx" ON "journey_migration_items"("migration_id", "status");
ALTER TABLE "journey_migration_items" ADD CONSTRAINT "journey_migration_items_migration_id_fkey" FOREIGN KEY ("migration_id") REFERENCES "journey_migrations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
