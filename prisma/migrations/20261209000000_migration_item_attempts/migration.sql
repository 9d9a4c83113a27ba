-- A migration's journeys each get a bounded number of passes: a journey Temporal cannot reach, or one that has not
-- answered yet, is tried again in a later pass (after the others), and counted failed only after the last.
ALTER TABLE "journey_migration_items" ADD COLUMN "attempts" INTEGER NOT NULL DEFAULT 0;
