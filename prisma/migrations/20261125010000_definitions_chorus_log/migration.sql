-- AlterTable
ALTER TABLE "customers" ADD COLUMN     "attributes" JSONB NOT NULL DEFAULT '{}';

-- AlterTable
ALTER TABLE "journeys" ADD COLUMN     "goals" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "escalated_at" TIMESTAMP(3),
ADD COLUMN     "escalated_to" TEXT;

-- CreateTable
CREATE TABLE "journey_definitions" (
    "key" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'draft',
    "document" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMP(3),
    "retired_at" TIMESTAMP(3),

    CONSTRAINT "journey_definitions_pkey" PRIMARY KEY ("key","version")
);

-- CreateTable
CREATE TABLE "journey_log" (
    "id" BIGSERIAL NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "journey_key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "journey_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "journey_definitions_key_status_idx" ON "journey_definitions"("key", "status");

-- CreateIndex
CREATE UNIQUE INDEX "journey_log_idempotency_key_key" ON "journey_log"("idempotency_key");

-- CreateIndex
CREATE INDEX "journey_log_workflow_id_idx" ON "journey_log"("workflow_id");

-- CreateIndex
CREATE INDEX "journey_log_journey_key_kind_idx" ON "journey_log"("journey_key", "kind");

-- CreateIndex
CREATE INDEX "journeys_customer_id_journey_key_idx" ON "journeys"("customer_id", "journey_key");

