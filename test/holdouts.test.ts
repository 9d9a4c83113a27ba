// Holdouts end to end on the real stack (Temporal dev server, Postgres, the SMTP catcher): a customer in the global
// control group, or in a journey's own holdout, runs the journey as `control` — its stages and goals, no message, no
// mail, no task — while a treated customer gets the journey as designed. Every way a journey starts decides the cohort:
// the API, an entry event, another journey's startJourney step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JourneyDefinition } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import { assignHoldout } from '../service/holdouts.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

const GLOBAL_PERCENT = 10;
let stack: Stack;
let app: ReturnType<typeof createStackApp>;

beforeAll(async () => {
  stack = await startStack({ controlGroupPercent: GLOBAL_PERCENT });
  await stack.startWorker();
  app = createStackApp(stack);
});
afterAll(async () => stack?.stop());

let seq = 0;
/** A new customer whose id the holdout draw puts in `cohort` for `def` (ids are tried in turn: the draw is a hash). */
async function customerIn(cohort: 'control' | 'treated', def: Pick<JourneyDefinition, 'key' | 'tags' | 'holdout'>, source?: 'global' | 'journey') {
  let id: string;
  for (;;) {
    id = `ho-${++seq}`;
    const h = assignHoldout(def, id, stack.config.controlGroup);
    if ((h?.cohort ?? 'treated') === cohort && (source === undefined || h?.source === source)) break;
  }
  const c = { id, email: `${id}@example.com`, phone: `+86139${String(seq).padStart(8, '0')}` };
  await api(app)
    .put(`/v1/customers/${id}`)
    .send({ name: `Customer ${id}`, email: c.email, phone: c.phone, rmId: 'rm-7', consents: { email: true, sms: true } })
    .expect(201);
  return c;
}
const event = (customerId: string, type: string, data?: Record<string, unknown>) =>
  api(app)
    .post(`/v1/customers/${customerId}/events`)
    .send({ eventId: `${customerId}-${++seq}`, type, ...(data ? { data } : {}) })
    .expect(202);
const row = (workflowId: string) => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } });
const log = (workflowId: string, kind: string) => stack.testDb.db.journeyLogEntry.findMany({ where: { workflowId, kind }, orderBy: { id: 'asc' } });

describe('the global control group (marketing journeys)', () => {
  const lifecycle = loadBuiltIn('lifecycle');

  it('a control customer reaches the stages and goals of lifecycle without a message, a mail or a task', async () => {
    const c = await customerIn('control', lifecycle, 'global');
    const started = await api(app)
      .post('/v1/journeys')
      .send({ journeyKey: 'lifecycle', customerId: c.id, params: { onboardingAfter: 'PT1S' } })
      .expect(201);
    const workflowId = started.body.workflowId as string;
    expect(started.body.cohort).toBe('control');
    await event(c.id, 'product.viewed');
    await event(c.id, 'product.purchased');
    // The onboarding delay runs in control as in treatment: the journey moves to `service` when it is over.
    await eventually(
      () => row(workflowId),
      (j) => j.stage === 'service',
    );
    await event(c.id, 'customer.referred');
    const done = await eventually(
      () => row(workflowId),
      (j) => j.status === 'completed',
    );
    expect(done).toMatchObject({ cohort: 'control', exitReason: 'advocate', goals: ['purchased', 'advocate'] });
    const stages = await stack.testDb.db.stageTransition.findMany({ where: { workflowId }, orderBy: { seq: 'asc' } });
    expect(stages.map((s) => s.toStage)).toEqual(['awareness', 'consideration', 'purchase', 'service']);
    expect(await stack.testDb.db.message.count({ where: { customerId: c.id } })).toBe(0);
    expect(stack.smtp.messages().filter((m) => m.to.includes(c.email))).toEqual([]);
    expect(await stack.testDb.db.task.count({ where: { customerId: c.id } })).toBe(0);
    expect((await log(workflowId, 'holdout')).map((e) => e.data)).toEqual([{ cohort: 'control', source: 'global', percent: GLOBAL_PERCENT }]);
    // What it would have sent: the thanks and the satisfaction survey.
    expect((await log(workflowId, 'held_out')).map((e) => (e.data as { template: string }).template)).toEqual(['lifecycle-thanks', 'lifecycle-csat']);
    expect((await api(app).get(`/v1/journeys/${workflowId}`).expect(200)).body.cohort).toBe('control');
  });

  it('a treated customer of the same journey gets its mail, and the log names the group it was drawn against', async () => {
    const c = await customerIn('treated', lifecycle);
    const started = await api(app)
      .post('/v1/journeys')
      .send({ journeyKey: 'lifecycle', customerId: c.id, params: { onboardingAfter: 'PT1S' } })
      .expect(201);
    const workflowId = started.body.workflowId as string;
    await event(c.id, 'product.purchased');
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Thank you for your purchase');
    expect(await row(workflowId)).toMatchObject({ cohort: 'treated' });
    expect(await stack.testDb.db.message.count({ where: { customerId: c.id } })).toBeGreaterThan(0);
    expect((await log(workflowId, 'holdout')).map((e) => e.data)).toEqual([{ cohort: 'treated', source: 'global', percent: GLOBAL_PERCENT }]);
    expect(await log(workflowId, 'held_out')).toEqual([]);
  });

  it("a journey started by another (bank-loan's renewal starts fund-dca) is held out for a control customer; the lending journey is not", async () => {
    const fund = loadBuiltIn('fund-dca');
    const c = await customerIn('control', fund, 'global');
    const loan = await api(app).post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId: c.id }).expect(201);
    expect(loan.body.cohort).toBe('treated'); // tagged lending, not marketing: the global group does not apply
    await event(c.id, 'loan.approved', { limit: 1000, expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() });
    await event(c.id, 'loan.renewed');
    const started = await eventually(
      () => stack.testDb.db.journey.findFirst({ where: { customerId: c.id, journeyKey: 'fund-dca' } }),
      (j) => j !== null,
    );
    expect(started!.cohort).toBe('control');
    expect(await log(loan.body.workflowId, 'holdout')).toEqual([]);
  });
});

describe('simulation of a cohort', () => {
  it('previews a control customer: the same stages and goals, no message, each send held out', async () => {
    const body = (cohort?: string) => ({
      key: 'lifecycle',
      start: '2026-01-05T00:00:00Z',
      until: '2026-03-01T00:00:00Z',
      params: { onboardingAfter: 'P1D' },
      events: [
        { at: '2026-01-05T01:00:00Z', type: 'product.viewed' },
        { at: '2026-01-06T00:00:00Z', type: 'product.purchased' },
      ],
      ...(cohort ? { cohort } : {}),
    });
    const treated = (await api(app).post('/v1/journey-definitions/simulate').send(body()).expect(200)).body;
    const control = (await api(app).post('/v1/journey-definitions/simulate').send(body('control')).expect(200)).body;
    expect(treated.messages.length).toBeGreaterThan(0);
    expect(control.messages).toEqual([]);
    expect(control.stages).toEqual(treated.stages);
    expect(control.goals).toEqual(treated.goals);
    expect(control.timeline.filter((t: { kind: string }) => t.kind === 'held_out')).toHaveLength(treated.messages.length);
    expect(control.timeline[0]).toMatchObject({ kind: 'holdout', data: { cohort: 'control' } });
    expect((await api(app).post('/v1/journey-definitions/simulate').send(body('absent')).expect(400)).body.error.code).toBe('invalid_request');
  });
});

describe("a journey's own holdout", () => {
  const callMe = {
    key: 'call-me',
    version: 1,
    name: 'Call me',
    holdout: { percent: 50 },
    entry: { api: false, events: [{ event: 'service.case_opened' }] },
    stages: [
      { key: 'open', label: 'Open' },
      { key: 'called', label: 'Called' },
      { key: 'done', label: 'Done' },
    ],
    initialStage: 'open',
    goals: [{ key: 'handled' }, { key: 'closed', event: 'service.case_closed' }],
    triggers: [
      {
        event: 'service.case_opened',
        steps: [
          { type: 'send', channel: 'email', template: 'lifecycle-thanks' },
          { type: 'task', key: 'call', title: 'Call the customer', due: 'PT2S', outcomes: { reached: [{ type: 'stage', stage: 'called' }] } },
          { type: 'goal', key: 'handled' },
          { type: 'stage', stage: 'done' },
        ],
      },
    ],
  };
  const def = JourneyDefinition.parse(callMe);

  beforeAll(async () => {
    const draft = await api(app).post('/v1/journey-definitions').send(callMe).expect(201);
    await api(app, 'ops').post(`/v1/journey-definitions/call-me/versions/${draft.body.version}/publish`).expect(200);
  });

  it('started by its entry event, a control journey creates no task, goes on when the task would have fallen due, and reaches its goals', async () => {
    const c = await customerIn('control', def, 'journey');
    await event(c.id, 'service.case_opened');
    const j = await eventually(
      () => stack.testDb.db.journey.findFirst({ where: { customerId: c.id, journeyKey: 'call-me' } }),
      (r) => r?.stage === 'done',
    );
    expect(j).toMatchObject({ cohort: 'control', goals: ['handled'] });
    // Straight on after the due time: the `reached` outcome's stage is never entered.
    const stages = await stack.testDb.db.stageTransition.findMany({ where: { workflowId: j!.workflowId }, orderBy: { seq: 'asc' } });
    expect(stages.map((s) => s.toStage)).toEqual(['open', 'done']);
    await event(c.id, 'service.case_closed');
    await eventually(
      () => row(j!.workflowId),
      (r) => r.status === 'completed',
    );
    expect(await stack.testDb.db.task.count({ where: { customerId: c.id } })).toBe(0);
    expect(await stack.testDb.db.message.count({ where: { customerId: c.id } })).toBe(0);
    expect(stack.smtp.messages().filter((m) => m.to.includes(c.email))).toEqual([]);
    expect((await log(j!.workflowId, 'holdout')).map((e) => e.data)).toEqual([{ cohort: 'control', source: 'journey', percent: 50 }]);
    expect((await log(j!.workflowId, 'held_out')).map((e) => (e.data as { action: string }).action)).toEqual(['send', 'task']);
  });

  it('a treated journey sends, hands the RM the task and follows the outcome', async () => {
    const c = await customerIn('treated', def, 'journey');
    await event(c.id, 'service.case_opened');
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Thank you for your purchase');
    const task = await eventually(
      () => stack.testDb.db.task.findFirst({ where: { customerId: c.id } }),
      (t) => t !== null,
    );
    await api(app).post(`/v1/tasks/${task!.id}/complete`).send({ outcome: 'reached' }).expect(200);
    const j = await eventually(
      () => stack.testDb.db.journey.findFirst({ where: { customerId: c.id, journeyKey: 'call-me' } }),
      (r) => r?.stage === 'done',
    );
    expect(j!.cohort).toBe('treated');
    const stages = await stack.testDb.db.stageTransition.findMany({ where: { workflowId: j!.workflowId }, orderBy: { seq: 'asc' } });
    expect(stages.map((s) => s.toStage)).toEqual(['open', 'called', 'done']);
  });
});
