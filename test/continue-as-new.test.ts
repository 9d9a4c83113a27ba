// A long-lived journey continues as new when Temporal suggests it, carrying its state and losing no signal. The dev
// server is told to suggest it early (a small history-count threshold), so the test needs only a few hundred events.
import { ServiceError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveParams } from '../engine/definition.js';
import type { JourneyState } from '../engine/engine.js';
import { loadBuiltIn } from '../journeys/index.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { journeyEventSignal, journeyWorkflowId, stateQuery } from '../workflows/messages.js';
import { eventually, startStack, type Stack } from './support/stack.js';

const SUGGEST_AFTER = 50;
const FAILED_PRECONDITION = 9; // gRPC status code

/** The journey's state, or undefined while its last workflow task has failed and the next is not done. A run that
 * continues as new while signals are still arriving has that task failed by the server (cause FORCE_CLOSE_COMMAND:
 * new events came in while it closed) and its next task runs with those signals; a query in between is refused with
 * FAILED_PRECONDITION. That is Temporal's own retry at work, not the journey's failure, so the test asks again. */
async function settledState(workflowId: string): Promise<JourneyState | undefined> {
  try {
    return await stack.client.workflow.getHandle(workflowId).query(stateQuery);
  } catch (err) {
    const cause = (err as { cause?: { code?: number } }).cause;
    if (err instanceof ServiceError && cause?.code === FAILED_PRECONDITION) return undefined;
    throw err;
  }
}
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ extraServerArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_AFTER}`] });
  await stack.startWorker();
});
afterAll(async () => stack?.stop());

describe('continue-as-new', () => {
  it('carries the state and every signal across runs', async () => {
    const loan = loadBuiltIn('bank-loan');
    const customerId = 'can-1';
    await stack.testDb.db.customer.create({ data: { id: customerId, name: 'Long', email: 'long@example.com' } });
    const workflowId = journeyWorkflowId('bank-loan', customerId);
    const input: JourneyWorkflowInput = { definition: loan, customerId, params: resolveParams(loan) };
    const handle = await stack.client.workflow.start('journeyWorkflow', { taskQueue: stack.taskQueue, workflowId, args: [input] });
    const firstRunId = handle.firstExecutionRunId;

    const signal = (i: number, type: string, data: Record<string, unknown> = {}) =>
      handle.signal(journeyEventSignal, { eventId: `can-${i}`, type, occurredAt: new Date().toISOString(), data });
    await signal(0, 'loan.stage_changed', { stage: 'interest' });
    // Events that change nothing but must each be counted, sent in bursts so some arrive while a run is closing.
    const TOTAL = 300;
    for (let i = 1; i <= TOTAL; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => signal(i + k, 'loan.repaid', { dueAt: `2026-01-${(k % 28) + 1}` })));
    await signal(TOTAL + 1, 'loan.stage_changed', { stage: 'comparison' });

    const state = (await eventually(
      () => settledState(workflowId),
      (s) => s?.eventsSeen === TOTAL + 2,
    )) as JourneyState;
    expect(state.stage).toBe('comparison');
    expect(state.stageHistory.map((h) => h.stage)).toEqual(['awareness', 'interest', 'comparison']);
    const runs: string[] = [];
    for await (const w of stack.client.workflow.list({ query: `WorkflowId="${workflowId}"` })) runs.push(w.runId);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs).toContain(firstRunId);
    // the stage email went out once, not once per run
    const messages = await eventually(
      () => stack.testDb.db.message.findMany({ where: { customerId } }),
      (m) => m.length >= 2,
    );
    expect(messages.map((m) => m.template).sort()).toEqual(['loan-comparison-guide', 'loan-product-intro']);
  });
});
