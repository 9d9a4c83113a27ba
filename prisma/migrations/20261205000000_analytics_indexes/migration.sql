-- Analytics over the read model. Every figure starts from one journey key's journeys in a period (by start), then joins
-- what hangs off each journey by its workflow id: stage transitions (unique on workflow_id, seq already), journey log
-- entries of a kind (split variants, feedback answers), messages and their events (by message_id, at already).
CREATE INDEX "journeys_journey_key_started_at_idx" ON "journeys"("journey_key", "started_at");
CREATE INDEX "journeys_journey_key_status_stage_idx" ON "journeys"("journey_key", "status", "stage");
CREATE INDEX "journey_log_workflow_id_kind_idx" ON "journey_log"("workflow_id", "kind");
CREATE INDEX "messages_workflow_id_idx" ON "messages"("workflow_id");

-- The paged journey list walks journeys newest first (by start, then id) within the filters.
CREATE INDEX "journeys_started_at_workflow_id_idx" ON "journeys"("started_at", "workflow_id");

-- Since when the journey waits at its current steps (`waiting`): how long journeys have stalled at a step.
ALTER TABLE "journeys" ADD COLUMN "waiting_since" TIMESTAMP(3);
