-- Four-eyes publishing, the audit log, consent provenance and erasure (issue 9).

-- Definitions: who drafted, published and retired each version (a principal id, NULL for versions made before this
-- was recorded).
ALTER TABLE "journey_definitions" ADD COLUMN "created_by" TEXT;
ALTER TABLE "journey_definitions" ADD COLUMN "published_by" TEXT;
ALTER TABLE "journey_definitions" ADD COLUMN "retired_by" TEXT;

-- Templates become draft → published versions. Every version stored before this was live at once: they are
-- published, and a new version is a draft until another principal publishes it.
ALTER TABLE "message_templates" ADD COLUMN "status" TEXT NOT NULL DEFAULT 'published';
ALTER TABLE "message_templates" ALTER COLUMN "status" SET DEFAULT 'draft';
ALTER TABLE "message_templates" ADD COLUMN "created_by" TEXT;
ALTER TABLE "message_templates" ADD COLUMN "published_by" TEXT;
ALTER TABLE "message_templates" ADD COLUMN "published_at" TIMESTAMP(3);
UPDATE "message_templates" SET "published_at" = "created_at";
CREATE INDEX "message_templates_status_key_channel_locale_idx" ON "message_templates"("status", "key", "channel", "locale");

-- An erased customer keeps its row (the id the kept facts hang on) with no personal data and this mark.
ALTER TABLE "customers" ADD COLUMN "erased_at" TIMESTAMP(3);

-- What happened: one row per state-changing request and per read of a customer's personal data. Ids only, no
-- personal data, so erasure never needs to touch it.
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "principal_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_type" TEXT,
    "target_id" TEXT,
    "outcome" TEXT NOT NULL,
    "status" INTEGER,
    "request_id" TEXT,
    "detail" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");
CREATE INDEX "audit_log_principal_id_at_idx" ON "audit_log"("principal_id", "at");
CREATE INDEX "audit_log_target_id_at_idx" ON "audit_log"("target_id", "at");
CREATE INDEX "audit_log_action_at_idx" ON "audit_log"("action", "at");

-- Append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION "audit_log_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_log_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_log" FOR EACH ROW EXECUTE FUNCTION "audit_log_append_only"();
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_append_only"();

-- Where each consent decision came from: a principal's PUT of the customer, or an opt-out event.
CREATE TABLE "consent_changes" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "customer_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "from" BOOLEAN,
    "to" BOOLEAN NOT NULL,
    "source" TEXT NOT NULL,
    "principal_id" TEXT,
    "event_id" TEXT,
    "request_id" TEXT,

    CONSTRAINT "consent_changes_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "consent_changes_customer_id_at_idx" ON "consent_changes"("customer_id", "at");
