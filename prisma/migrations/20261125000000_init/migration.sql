-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "customers" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "email" TEXT,
    "phone" TEXT,
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "locale" TEXT NOT NULL DEFAULT 'en',
    "segment" TEXT,
    "rm_id" TEXT,
    "consents" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "journeys" (
    "workflow_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "journey_key" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "business_key" TEXT,
    "status" TEXT NOT NULL DEFAULT 'running',
    "exit_reason" TEXT,
    "stage" TEXT NOT NULL,
    "stage_entered_at" TIMESTAMP(3) NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "started_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "journeys_pkey" PRIMARY KEY ("workflow_id")
);

-- CreateTable
CREATE TABLE "stage_transitions" (
    "id" BIGSERIAL NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "from_stage" TEXT,
    "to_stage" TEXT NOT NULL,
    "cause" TEXT,
    "entered_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "stage_transitions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbound_events" (
    "event_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "workflow_id" TEXT,
    "type" TEXT NOT NULL,
    "occurred_at" TIMESTAMP(3) NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "data" JSONB NOT NULL DEFAULT '{}',
    "delivered_to" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "delivered_at" TIMESTAMP(3),

    CONSTRAINT "inbound_events_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "messages" (
    "id" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "template" TEXT NOT NULL,
    "recipient" TEXT,
    "subject" TEXT,
    "body" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "status_reason" TEXT,
    "provider_id" TEXT,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tasks" (
    "id" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "task_key" TEXT NOT NULL,
    "rm_id" TEXT,
    "title" TEXT NOT NULL,
    "description" TEXT,
    "due_at" TIMESTAMP(3) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'open',
    "outcome" TEXT,
    "note" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMP(3),

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "journeys_customer_id_status_idx" ON "journeys"("customer_id", "status");

-- CreateIndex
CREATE INDEX "journeys_journey_key_stage_idx" ON "journeys"("journey_key", "stage");

-- CreateIndex
CREATE UNIQUE INDEX "stage_transitions_workflow_id_seq_key" ON "stage_transitions"("workflow_id", "seq");

-- CreateIndex
CREATE INDEX "inbound_events_customer_id_received_at_idx" ON "inbound_events"("customer_id", "received_at");

-- CreateIndex
CREATE UNIQUE INDEX "messages_idempotency_key_key" ON "messages"("idempotency_key");

-- CreateIndex
CREATE INDEX "messages_customer_id_created_at_idx" ON "messages"("customer_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "tasks_idempotency_key_key" ON "tasks"("idempotency_key");

-- CreateIndex
CREATE INDEX "tasks_rm_id_status_idx" ON "tasks"("rm_id", "status");

-- CreateIndex
CREATE INDEX "tasks_customer_id_status_idx" ON "tasks"("customer_id", "status");

-- AddForeignKey
ALTER TABLE "journeys" ADD CONSTRAINT "journeys_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_workflow_id_fkey" FOREIGN KEY ("workflow_id") REFERENCES "journeys"("workflow_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbound_events" ADD CONSTRAINT "inbound_events_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

