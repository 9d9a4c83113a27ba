-- Definitions keep their text as written: `jsonb` orders an object's keys by length, so a task's outcomes (one button
-- each in the console) and a split's variants came back in an order nobody wrote. Versions stored before keep the
-- order they were stored in.
ALTER TABLE "journey_definitions" ALTER COLUMN "document" TYPE JSON USING "document"::JSON;
