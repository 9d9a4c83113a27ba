-- Holdouts: a journey runs `treated` (the journey as designed) or `control` (held out: same waits and stages, no sends,
-- no tasks), so lift can be measured. Journeys before this column were all treated.
ALTER TABLE "journeys" ADD COLUMN "cohort" TEXT NOT NULL DEFAULT 'treated';

-- The steps a running journey waits at now (step ids), for the live counts of the journey map.
ALTER TABLE "journeys" ADD COLUMN "waiting" TEXT[] DEFAULT ARRAY[]::TEXT[];
