-- A customer created without a time zone is stored without one: the contact policy falls back to its default zone
-- and records `timezone_fallback`. Existing rows keep the zone they have.
ALTER TABLE "customers" ALTER COLUMN "time_zone" DROP NOT NULL;
ALTER TABLE "customers" ALTER COLUMN "time_zone" DROP DEFAULT;
