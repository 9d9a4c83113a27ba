-- At most one running migration per journey key and source version (service/migrations.ts `apply`). Two migrations
-- of the same journeys at once would race to signal them and each count the other's moves; the check before the
-- insert answers 409 early, this index makes it hold when two applies run at the same instant. Partial: finished and
-- failed migrations are history and do not block a new one.
CREATE UNIQUE INDEX "journey_migrations_one_running_idx" ON "journey_migrations" ("journey_key", "from_version") WHERE "status" = 'running';
