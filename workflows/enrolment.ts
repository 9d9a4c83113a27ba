// A bulk enrolment of an audience into a journey, as a small batch workflow: it asks an activity to start the next
// batch of pending customers at the enrolment's rate (each outcome stored in Postgres), and goes on until none is
// pending. Pause, resume and cancel arrive as one signal; a pause takes effect between batches (the enrolment then
// reads `paused`), a cancel ends it with the counts so far. A crash anywhere resumes from what is stored: a start the
// crash interrupted is recognised as the enrolment's own (service/enrolments.ts). A long run continues as new.
import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { EnrolmentActivities } from '../activities/enrolment.js';
import { assertUnreachable } from '../engine/errors.js';
import { controlEnrolmentSignal } from './messages.js';

export interface EnrolmentWorkflowInput {
  enrolmentId: string;
  /** Customers per activity call (about a second's worth at the rate), and starts per second. */
  batchSize: number;
  ratePerSecond: number;
  /** Carried over a continue-as-new. */
  paused?: boolean;
  cancelled?: boolean;
}

export interface EnrolmentResult {
  started: number;
  skipped: number;
  failed: number;
  pending: number;
}

/** Batches per run before continuing as new (a million customers are 2 000+ batches; each run's history stays small). */
const BATCHES_PER_RUN = 200;

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['PermanentError'] };
const { enrolBatch } = proxyActivities<EnrolmentActivities>({
  // A batch is about a second of starts; it heartbeats after each, so a worker gone is noticed within the heartbeat.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry,
});
const { setEnrolmentStatus, finishEnrolment } = proxyActivities<EnrolmentActivities>({ startToCloseTimeout: '30 seconds', retry });

export async function enrolmentWorkflow(input: EnrolmentWorkflowInput): Promise<EnrolmentResult> {
  let paused = input.paused ?? false;
  let cancelled = input.cancelled ?? false;
  setHandler(controlEnrolmentSignal, ({ action }) => {
    switch (action) {
      case 'pause':
        paused = true;
        break;
      case 'resume':
        paused = false;
        break;
      case 'cancel':
        cancelled = true;
        break;
      default:
        assertUnreachable(action, 'enrolment control');
    }
  });
  for (let batches = 0; ; batches++) {
    if (paused && !cancelled) {
      await setEnrolmentStatus({ enrolmentId: input.enrolmentId, status: 'paused' });
      await condition(() => !paused || cancelled);
      if (!cancelled) await setEnrolmentStatus({ enrolmentId: input.enrolmentId, status: 'running' });
    }
    if (cancelled) break;
    const { remaining } = await enrolBatch({ enrolmentId: input.enrolmentId, limit: input.batchSize, ratePerSecond: input.ratePerSecond });
    if (remaining === 0) break;
    if (batches + 1 >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof enrolmentWorkflow>({ ...input, paused, cancelled });
    }
  }
  return finishEnrolment({ enrolmentId: input.enrolmentId, cancelled });
}
