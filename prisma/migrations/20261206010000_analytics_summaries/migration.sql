-- Summaries the console's analytics read instead of recomputing them from whole histories on every request (measured
-- in BENCHMARKS.md: windows over every stage transition, and every message's story aggregated per message, took
-- 0.75 s and 2.3 s at 100 000 journeys). They are kept by triggers, so every writer of a transition, a journey's end
-- or a message event — the worker's activities, the Twilio status callback, an operator's SQL — keeps them exact, and
-- no writer can forget them.

-- Each stage visit: its journey's key (so a key's figures over all its journeys read the visits alone), the stage's
-- position in the journey's own definition version (1-based; NULL when the version is not stored), whether it is the
-- journey's first visit to the stage, when it was left (the next visit's start, or the journey's end), and whether a
-- later stage of that definition was reached after it.
ALTER TABLE "stage_transitions"
  ADD COLUMN "journey_key" TEXT,
  ADD COLUMN "stage_index" INTEGER,
  ADD COLUMN "first_visit" BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN "left_at" TIMESTAMP(3),
  ADD COLUMN "converted" BOOLEAN NOT NULL DEFAULT false;

-- Each message: its journey's key, the outcomes its story holds (each once) and the reasons given for a suppression,
-- deferral, drop or failure (each once).
ALTER TABLE "messages"
  ADD COLUMN "journey_key" TEXT,
  ADD COLUMN "outcomes" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
  ADD COLUMN "outcome_reasons" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];

CREATE FUNCTION "stage_visit_before_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ended timestamp(3);
BEGIN
  SELECT j.journey_key, j.ended_at INTO NEW.journey_key, ended FROM journeys j WHERE j.workflow_id = NEW.workflow_id;
  SELECT e.i INTO NEW.stage_index
    FROM journeys j
    JOIN journey_definitions d ON d.key = j.journey_key AND d.version = j.version
    CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(d.document->'stages') = 'array' THEN d.document->'stages' ELSE '[]'::json END) WITH ORDINALITY AS e(s, i)
   WHERE j.workflow_id = NEW.workflow_id AND e.s->>'key' = NEW.to_stage
   LIMIT 1;
  NEW.first_visit := NOT EXISTS (SELECT 1 FROM stage_transitions t WHERE t.workflow_id = NEW.workflow_id AND t.to_stage = NEW.to_stage AND t.seq < NEW.seq);
  -- Visits written after this one (out of order) close it and may have converted it; else the journey's end closes it.
  SELECT t.entered_at INTO NEW.left_at FROM stage_transitions t WHERE t.workflow_id = NEW.workflow_id AND t.seq > NEW.seq ORDER BY t.seq LIMIT 1;
  IF NEW.left_at IS NULL THEN
    NEW.left_at := ended;
  END IF;
  NEW.converted := NEW.stage_index IS NOT NULL AND EXISTS (
    SELECT 1 FROM stage_transitions t WHERE t.workflow_id = NEW.workflow_id AND t.seq > NEW.seq AND t.stage_index > NEW.stage_index);
  RETURN NEW;
END $$;

CREATE FUNCTION "stage_visit_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The visit before this one ends where this one starts.
  UPDATE stage_transitions SET left_at = NEW.entered_at
   WHERE workflow_id = NEW.workflow_id
     AND seq = (SELECT max(t.seq) FROM stage_transitions t WHERE t.workflow_id = NEW.workflow_id AND t.seq < NEW.seq);
  -- A later visit to the same stage written before this one was not the first.
  UPDATE stage_transitions SET first_visit = false WHERE workflow_id = NEW.workflow_id AND to_stage = NEW.to_stage AND seq > NEW.seq AND first_visit;
  IF NEW.stage_index IS NOT NULL THEN
    UPDATE stage_transitions SET converted = true
     WHERE workflow_id = NEW.workflow_id AND seq < NEW.seq AND stage_index < NEW.stage_index AND NOT converted;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "stage_visit_before_insert" BEFORE INSERT ON "stage_transitions" FOR EACH ROW EXECUTE FUNCTION "stage_visit_before_insert"();
CREATE TRIGGER "stage_visit_after_insert" AFTER INSERT ON "stage_transitions" FOR EACH ROW EXECUTE FUNCTION "stage_visit_after_insert"();

-- A journey's end closes the visit it ended in.
CREATE FUNCTION "journey_end_closes_visit"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stage_transitions SET left_at = NEW.ended_at WHERE workflow_id = NEW.workflow_id AND left_at IS NULL;
  RETURN NULL;
END $$;

CREATE TRIGGER "journey_end_closes_visit" AFTER UPDATE OF "ended_at" ON "journeys" FOR EACH ROW
  WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) EXECUTE FUNCTION "journey_end_closes_visit"();

CREATE FUNCTION "message_journey_before_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT j.journey_key INTO NEW.journey_key FROM journeys j WHERE j.workflow_id = NEW.workflow_id;
  RETURN NEW;
END $$;

CREATE TRIGGER "message_journey_before_insert" BEFORE INSERT ON "messages" FOR EACH ROW EXECUTE FUNCTION "message_journey_before_insert"();

CREATE FUNCTION "message_outcome_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  reason text := CASE WHEN NEW.type IN ('suppressed', 'deferred', 'dropped', 'failed') THEN NEW.detail->>'reason' END;
BEGIN
  UPDATE messages SET
    outcomes = CASE WHEN NEW.type = ANY(outcomes) THEN outcomes ELSE outcomes || NEW.type END,
    outcome_reasons = CASE WHEN reason IS NULL OR reason = ANY(outcome_reasons) THEN outcome_reasons ELSE outcome_reasons || reason END
   WHERE id = NEW.message_id AND (NOT NEW.type = ANY(outcomes) OR (reason IS NOT NULL AND NOT reason = ANY(outcome_reasons)));
  RETURN NULL;
END $$;

CREATE TRIGGER "message_outcome_after_insert" AFTER INSERT ON "message_events" FOR EACH ROW
  WHEN (NEW.type IN ('sent', 'delivered', 'failed', 'suppressed', 'deferred', 'dropped')) EXECUTE FUNCTION "message_outcome_after_insert"();

-- What was written before the triggers.
WITH o AS (
  SELECT t.id, j.journey_key,
         (SELECT e.i FROM journey_definitions d
            CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(d.document->'stages') = 'array' THEN d.document->'stages' ELSE '[]'::json END) WITH ORDINALITY AS e(s, i)
           WHERE d.key = j.journey_key AND d.version = j.version AND e.s->>'key' = t.to_stage LIMIT 1) AS idx,
         row_number() OVER (PARTITION BY t.workflow_id, t.to_stage ORDER BY t.seq) = 1 AS first_visit,
         COALESCE(lead(t.entered_at) OVER (PARTITION BY t.workflow_id ORDER BY t.seq), j.ended_at) AS left_at
    FROM stage_transitions t JOIN journeys j ON j.workflow_id = t.workflow_id
)
UPDATE stage_transitions t SET journey_key = o.journey_key, stage_index = o.idx, first_visit = o.first_visit, left_at = o.left_at FROM o WHERE o.id = t.id;
UPDATE stage_transitions t SET converted = true
 WHERE t.stage_index IS NOT NULL
   AND EXISTS (SELECT 1 FROM stage_transitions l WHERE l.workflow_id = t.workflow_id AND l.seq > t.seq AND l.stage_index > t.stage_index);

UPDATE messages m SET journey_key = j.journey_key FROM journeys j WHERE j.workflow_id = m.workflow_id;
UPDATE messages m SET outcomes = s.outcomes, outcome_reasons = s.reasons
  FROM (
    SELECT e.message_id,
           COALESCE(array_agg(DISTINCT e.type) FILTER (WHERE e.type IN ('sent', 'delivered', 'failed', 'suppressed', 'deferred', 'dropped')), ARRAY[]::TEXT[]) AS outcomes,
           COALESCE(array_agg(DISTINCT e.detail->>'reason') FILTER (WHERE e.type IN ('suppressed', 'deferred', 'dropped', 'failed') AND e.detail->>'reason' IS NOT NULL), ARRAY[]::TEXT[]) AS reasons
      FROM message_events e GROUP BY e.message_id
  ) s
 WHERE s.message_id = m.id;

-- No JIT compilation in this database: its largest queries (the console's analytics) answer in well under a second,
-- where compiling them cost more than it saved (1.0 s of a 3.6 s message-outcome query at 100 000 journeys). Set on
-- the database rather than per connection, so it holds behind a connection pooler too; a migration user that may not
-- alter the database leaves the server's default, with a notice.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'jit stays at the server default: %', SQLERRM;
END $$;

-- A key's figures over all its journeys (the console's default view) read its visits and messages by key, in stage
-- order for the funnel.
CREATE INDEX "stage_transitions_journey_key_to_stage_idx" ON "stage_transitions"("journey_key", "to_stage");
CREATE INDEX "messages_journey_key_idx" ON "messages"("journey_key");
