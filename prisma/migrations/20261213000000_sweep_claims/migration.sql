-- Every API process runs the event sweeper (service/sweeper.ts). With two or more behind a load balancer, each pass
-- claims its events first, so the sweepers share a backlog instead of each signalling every event: the claim is a
-- lease that lapses if its process dies.
ALTER TABLE "inbound_events" ADD COLUMN "sweep_claimed_until" TIMESTAMP(3);

-- The sweeper's read: the oldest undelivered events. Partial, so it holds only those (a handful while all is well),
-- not every event ever received; without it each pass scanned the whole table.
CREATE INDEX "inbound_events_undelivered_idx" ON "inbound_events" ("received_at") WHERE "delivered_at" IS NULL;
