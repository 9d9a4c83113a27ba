-- Bulk enrolment of an audience into a journey (issue 12): the request, one row per customer with its outcome, and on
-- each journey the enrolment that started it.
CREATE TABLE "enrolments" (
    "id" TEXT NOT NULL,
    "journey_key" TEXT NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "filter" JSONB,
    "status" TEXT NOT NULL DEFAULT 'open',
    "rate_per_second" INTEGER NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "enrolments_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "enrolments_created_at_idx" ON "enrolments"("created_at");

CREATE TABLE "enrolment_items" (
    "enrolment_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "reason" TEXT,

    CONSTRAINT "enrolment_items_pkey" PRIMARY KEY ("enrolment_id", "customer_id")
);
CREATE INDEX "enrolment_items_enrolment_id_status_seq_idx" ON "enrolment_items"("enrolment_id", "status", "seq");
ALTER TABLE "enrolment_items" ADD CONSTRAINT "enrolment_items_enrolment_id_fkey" FOREIGN KEY ("enrolment_id") REFERENCES "enrolments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

ALTER TABLE "journeys" ADD COLUMN "enrolment_id" TEXT;
