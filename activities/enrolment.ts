// The enrolment workflow's activities: start a batch of an enrolment's customers, write its status, close it. The
// work is the enrolment service's (service/enrolments.ts); here it only gets the activity's heartbeat, its
// cancellation (a worker shutting down) and its error mapping.
import { Context } from '@temporalio/activity';
import type { EnrolmentStatus } from '../service/enrolments.js';
import { permanent, timed } from './index.js';

export interface EnrolBatchInput {
  enrolmentId: string;
  limit: number;
  ratePerSecond: number;
}

/** What the activities need from the enrolment service. */
export interface EnrolmentPort {
  runBatch(input: EnrolBatchInput, ctx: { heartbeat: () => void; stopping: () => boolean }): Promise<{ remaining: number }>;
  setStatus(enrolmentId: string, status: Extract<EnrolmentStatus, 'running' | 'paused'>): Promise<void>;
  finish(enrolmentId: string, cancelled: boolean): Promise<{ started: number; skipped: number; failed: number; pending: number }>;
}

export function createEnrolmentActivities(deps: { enrolments: EnrolmentPort }) {
  return timed({
    async enrolBatch(input: EnrolBatchInput): Promise<{ remaining: number }> {
      const ctx = Context.current();
      return permanent(() => deps.enrolments.runBatch(input, { heartbeat: () => ctx.heartbeat(), stopping: () => ctx.cancellationSignal.aborted }));
    },
    async setEnrolmentStatus(input: { enrolmentId: string; status: 'running' | 'paused' }): Promise<void> {
      return permanent(() => deps.enrolments.setStatus(input.enrolmentId, input.status));
    },
    async finishEnrolment(input: { enrolmentId: string; cancelled: boolean }) {
      return permanent(() => deps.enrolments.finish(input.enrolmentId, input.cancelled));
    },
  });
}

export type EnrolmentActivities = ReturnType<typeof createEnrolmentActivities>;
