// Signals, queries and search attributes of the journey workflow, defined once. Bundle-safe: imported by the
// workflow, the API, the worker and the tests.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { JourneyDefinition } from '../engine/definition.js';
import type { DurationLimits } from '../engine/duration.js';
import type { JourneyEvent, JourneyState, JourneyStatus, Profile, StageEntry } from '../engine/engine.js';
import type { MigrationMap } from '../engine/migrate.js';

export const journeyEventSignal = defineSignal<[JourneyEvent]>('journeyEvent');
export const exitJourneySignal = defineSignal<[{ reason: string }]>('exitJourney');
/** `taskRef` is the task's idempotency key: the engine's handle on it (absent from older senders). */
export const taskCompletedSignal = defineSignal<[{ taskId: string; taskKey: string; outcome: string; taskRef?: string }]>('taskCompleted');
/** The customer's profile changed: the part journeys may see (segment, time zone, locale, attributes). */
export const profileSignal = defineSignal<[Profile]>('profile');

/** Move the journey from `fromVersion` to the version `definition` is, at its next safe point (between inputs). The
 * journey answers in its log under `migrationLogKey`: a `migration` entry, or `migration_refused` with the reason. */
export interface MigrateJourney {
  migrationId: string;
  fromVersion: number;
  definition: JourneyDefinition;
  map: MigrationMap;
  /** The duration limits a start is held to (the service's configuration; absent from older senders: the engine's
   * defaults), which the parameters carried to the new version must keep. */
  limits?: DurationLimits;
}
export const migrateJourneySignal = defineSignal<[MigrateJourney]>('migrateJourney');
/** The journey-log idempotency key of a journey's answer to a migration. */
export const migrationLogKey = (workflowId: string, migrationId: string) => `${workflowId}/migration/${migrationId}`;

export interface StageView {
  stage: string;
  status: JourneyStatus;
  stageEnteredAt: string;
}

export interface JourneyView {
  workflowId: string;
  journeyKey: string;
  version: number;
  customerId: string;
  businessKey?: string;
  status: JourneyStatus;
  endReason?: string;
  stage: string;
  stageEnteredAt: string;
  stageHistory: StageEntry[];
  goals: string[];
  /** `control`: held out (no sends, no tasks); absent in views of journeys started before holdouts. */
  cohort?: 'treated' | 'control';
  waitingFor: string[];
  nextTimerAt?: string;
}

export const stageQuery = defineQuery<StageView>('stage');
export const journeyQuery = defineQuery<JourneyView>('journey');
/** The engine's whole state, for operators and tests. */
export const stateQuery = defineQuery<JourneyState>('state');

export const CustomerIdAttr = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const JourneyKeyAttr = defineSearchAttributeKey('JourneyKey', SearchAttributeType.KEYWORD);
export const JourneyStageAttr = defineSearchAttributeKey('JourneyStage', SearchAttributeType.KEYWORD);
/** running (set by the start), then completed, exited or failed (set by the workflow when the journey ends): ops filter
 * failed journeys with `JourneyStatus="failed"`. */
export const JourneyStatusAttr = defineSearchAttributeKey('JourneyStatus', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [CustomerIdAttr, JourneyKeyAttr, JourneyStageAttr, JourneyStatusAttr];

/** Escapes the characters that separate the parts of a workflow id (`:` between parts, `@` before a re-entry number)
 * and the escape character itself, so no part can pass for two. Ids of parts without them are unchanged. */
const encodePart = (part: string) => part.replace(/[%:@]/g, (c) => (c === '%' ? '%25' : c === ':' ? '%3A' : '%40'));
const decodePart = (part: string) => part.replace(/%(25|3A|40)/g, (_m, hex: string) => (hex === '25' ? '%' : hex === '3A' ? ':' : '@'));

/**
 * One workflow per (journey, customer, business key): the id is the idempotency key of a start. The parts are
 * escaped (`%` → `%25`, `:` → `%3A`, `@` → `%40`), so customer `a` with business key `vip` and customer `a:vip` get
 * different ids, and a re-entry's `${id}@${n}` cannot be mistaken for another customer's. Parts without those
 * characters are written as they are, so the ids of journeys started before the escaping are the same strings.
 */
export function journeyWorkflowId(journeyKey: string, customerId: string, businessKey?: string): string {
  const base = `journey:${encodePart(journeyKey)}:${encodePart(customerId)}`;
  return businessKey === undefined ? base : `${base}:${encodePart(businessKey)}`;
}

/** The parts a workflow id was built from (and the re-entry number of `${id}@${n}`); undefined for any other id. */
export function parseJourneyWorkflowId(workflowId: string): { journeyKey: string; customerId: string; businessKey?: string; reentry?: number } | undefined {
  const m = /^journey:([^:@]+):([^:@]+)(?::([^:@]+))?(?:@([1-9][0-9]*))?$/.exec(workflowId);
  if (!m) return undefined;
  const [, journeyKey, customerId, businessKey, reentry] = m;
  const parts = [journeyKey!, customerId!, ...(businessKey !== undefined ? [businessKey] : [])];
  // Only the canonical escaping is accepted (`%3a` or a bare `%` is no id of ours), so the inverse is exact.
  if (parts.some((p) => encodePart(decodePart(p)) !== p)) return undefined;
  return {
    journeyKey: decodePart(journeyKey!),
    customerId: decodePart(customerId!),
    ...(businessKey !== undefined ? { businessKey: decodePart(businessKey) } : {}),
    ...(reentry !== undefined ? { reentry: Number(reentry) } : {}),
  };
}

/** Pause, resume or cancel a bulk enrolment (workflows/enrolment.ts): a pause takes effect once the batch in flight is
 * done (the enrolment then reads `paused`); a cancel ends it with the counts so far, its pending customers untouched. */
export type EnrolmentControl = 'pause' | 'resume' | 'cancel';
export const controlEnrolmentSignal = defineSignal<[{ action: EnrolmentControl }]>('controlEnrolment');
/** One workflow per enrolment. */
export const enrolmentWorkflowId = (enrolmentId: string) => `enrolment:${enrolmentId}`;
