// Signals, queries and search attributes of the journey workflow, defined once. Bundle-safe: imported by the
// workflow, the API, the worker and the tests.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { JourneyEvent, JourneyState, JourneyStatus, Profile, StageEntry } from '../engine/engine.js';

export const journeyEventSignal = defineSignal<[JourneyEvent]>('journeyEvent');
export const exitJourneySignal = defineSignal<[{ reason: string }]>('exitJourney');
/** `taskRef` is the task's idempotency key: the engine's handle on it (absent from older senders). */
export const taskCompletedSignal = defineSignal<[{ taskId: string; taskKey: string; outcome: string; taskRef?: string }]>('taskCompleted');
/** The customer's profile changed: the part journeys may see (segment, time zone, locale, attributes). */
export const profileSignal = defineSignal<[Profile]>('profile');

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

/** One workflow per (journey, customer, business key): the id is the idempotency key of a start. */
export function journeyWorkflowId(journeyKey: string, customerId: string, businessKey?: string): string {
  return businessKey === undefined
    ? `journey:${journeyKey}:${customerId}`
    : `journey:${journeyKey}:${customerId}:${businessKey}`;
}
