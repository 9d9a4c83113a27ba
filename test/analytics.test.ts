// Journey analytics against figures worked out by hand: a small data set written straight into the read model (journeys,
// stage transitions, journey log, messages and their events, customers' segments), each figure of the funnel, time in
// stage (median and p90), breakpoints, feedback (CSAT, NPS, CES), message outcomes, the lift's interval and the map,
// under each filter (period, version, segment, variant); the paged journey list; and one journey run through the real
// worker showing in the funnel and in the map's live counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../db/client.js';
import { api, createStackApp, eventually, RM_ID, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;

const T0 = Date.parse('2026-03-01T00:00:00Z');
const H = 3_600_000;
const D = 24 * H;
const at = (ms: number) => new Date(ms);
const PERIOD = `from=${at(T0).toISOString()}&to=${at(T0 + 30 * D).toISOString()}`;

/** Four stages, two goals; a delay (`aware-delay`) that waits without moving the stage, a wait (`apply-wait`) after a
 * stage move, and two surveys without ids (named by their place). */
const definition = (
  key: string,
  goals = [
    { key: 'applied', label: 'Applied' },
    { key: 'repaid', label: 'Repaid' },
  ],
) => ({
  key,
  version: 1,
  name: `Analytics ${key}`,
  tags: [],
  entry: { api: true, events: [], reentry: { mode: 'once' } },
  stages: [
    { key: 's1', label: 'Aware' },
    { key: 's2', label: 'Compare' },
    { key: 's3', label: 'Apply' },
    { key: 's4', label: 'Repay' },
  ],
  initialStage: 's1',
  exits: [{ event: 'customer.opted_out', where: { channel: null }, reason: 'opted_out' }],
  goals,
  triggers: [
    { event: 'lifecycle.stage_changed', steps: [{ type: 'stage', stageFromEvent: 'stage' }] },
    {
      event: 'product.viewed',
      steps: [
        { id: 'aware-delay', type: 'delay', duration: 'P1D' },
        { type: 'stage', stage: 's2' },
      ],
    },
    {
      event: 'product.purchased',
      steps: [
        { type: 'stage', stage: 's3' },
        { id: 'apply-wait', type: 'wait', for: [{ event: 'customer.referred' }], timeout: 'P7D' },
      ],
    },
    {
      event: 'customer.profile_updated',
      steps: [
        { type: 'feedback', survey: 'csat', channel: 'email', template: 'lifecycle-csat', timeout: 'P7D' },
        { type: 'feedback', survey: 'nps', channel: 'sms', template: 'insurance-nps', timeout: 'P7D' },
      ],
    },
  ],
});

async function publish(doc: ReturnType<typeof definition>) {
  const draft = await stack.definitions.createDraft(doc, 'test-designer');
  expect(draft.problems).toEqual([]);
  await stack.definitions.publish(doc.key, draft.version, 'test-ops');
}

let seq = 0;
interface Seeded {
  id: string;
  customer: string;
  key?: string;
  version?: number;
  cohort?: 'treated' | 'control';
  /** Start, hours after T0 (days given as 24·n). */
  startH: number;
  /** Stages entered, hours after the start. */
  stages: [string, number][];
  status: 'running' | 'completed' | 'exited' | 'failed';
  endH?: number;
  reason?: string;
  goals?: string[];
  waiting?: string[];
  /** Waiting at those steps since this many hours before now. */
  waitingForH?: number;
  variant?: string;
}
async function seed(j: Seeded) {
  const start = T0 + j.startH * H;
  const last = j.stages.at(-1)!;
  await stack.testDb.db.journey.create({
    data: {
      workflowId: j.id,
      customerId: j.customer,
      journeyKey: j.key ?? 'an-loan',
      version: j.version ?? 1,
      status: j.status,
      exitReason: j.reason ?? null,
      stage: last[0],
      stageEnteredAt: at(start + last[1] * H),
      startedAt: at(start),
      endedAt: j.endH !== undefined ? at(start + j.endH * H) : null,
      goals: j.goals ?? [],
      cohort: j.cohort ?? 'treated',
      waiting: j.waiting ?? [],
      waitingSince: j.waitingForH !== undefined ? at(Date.now() - j.waitingForH * H) : null,
    },
  });
  await stack.testDb.db.stageTransition.createMany({
    data: j.stages.map(([stage, h], i) => ({
      workflowId: j.id,
      seq: i + 1,
      fromStage: i === 0 ? null : j.stages[i - 1]![0],
      toStage: stage,
      cause: 'seed',
      enteredAt: at(start + h * H),
    })),
  });
  if (j.variant) await log(j, 'split', { split: 'nudge', variant: j.variant });
}
async function log(j: { id: string; customer: string; key?: string }, kind: string, data: Record<string, unknown>) {
  await stack.testDb.db.journeyLogEntry.create({
    data: { idempotencyKey: `seed/${++seq}`, workflowId: j.id, customerId: j.customer, journeyKey: j.key ?? 'an-loan', kind, data: data as Prisma.InputJsonValue, at: at(T0) },
  });
}
async function message(j: { id: string; customer: string }, template: string, channel: string, story: [type: string, reason?: string][]) {
  const m = await stack.testDb.db.message.create({ data: { idempotencyKey: `seed-msg/${++seq}`, workflowId: j.id, customerId: j.customer, channel, template } });
  await stack.testDb.db.messageEvent.createMany({ data: story.map(([type, reason]) => ({ messageId: m.id, type, detail: reason !== undefined ? { reason } : {} })) });
}

// The data set. Hours are from each journey's start; J7 starts after the period, J6 runs version 2.
const J1: Seeded = {
  id: 'an:J1',
  customer: 'an-c1',
  startH: 0,
  stages: [
    ['s1', 0],
    ['s2', 1],
    ['s3', 3],
    ['s4', 7],
  ],
  status: 'completed',
  endH: 10,
  goals: ['applied', 'repaid'],
  variant: 'A',
};
const J2: Seeded = {
  id: 'an:J2',
  customer: 'an-c2',
  startH: 24,
  stages: [
    ['s1', 0],
    ['s2', 2],
    ['s3', 6],
  ],
  status: 'running',
  goals: ['applied'],
  waiting: ['apply-wait'],
  waitingForH: 2,
  variant: 'B',
};
const J3: Seeded = {
  id: 'an:J3',
  customer: 'an-c3',
  startH: 48,
  stages: [
    ['s1', 0],
    ['s2', 4],
  ],
  status: 'exited',
  endH: 5,
  reason: 'opted_out',
  variant: 'A',
};
const J4: Seeded = {
  id: 'an:J4',
  customer: 'an-c4',
  cohort: 'control',
  startH: 72,
  stages: [
    ['s1', 0],
    ['s3', 2],
  ],
  status: 'running',
  goals: ['applied'],
  waiting: ['apply-wait'],
  waitingForH: 4,
};
const J5: Seeded = { id: 'an:J5', customer: 'an-c5', cohort: 'control', startH: 96, stages: [['s1', 0]], status: 'running' };
const J6: Seeded = {
  id: 'an:J6',
  customer: 'an-c6',
  version: 2,
  startH: 120,
  stages: [['s1', 0]],
  status: 'failed',
  endH: 1,
  reason: 'step_budget: journey "an-loan" ran 10000 steps without waiting',
};
const J7: Seeded = { id: 'an:J7', customer: 'an-c7', startH: 40 * 24, stages: [['s1', 0]], status: 'running', waiting: ['aware-delay'], waitingForH: 1 };
const J8: Seeded = {
  id: 'an:J8',
  customer: 'an-c8',
  cohort: 'control',
  startH: 144,
  stages: [
    ['s1', 0],
    ['s2', 0.5],
  ],
  status: 'completed',
  endH: 3,
  goals: ['applied'],
};
const SEGMENT: Record<string, string> = {
  'an-c1': 'young',
  'an-c2': 'young',
  'an-c5': 'young',
  'an-c7': 'young',
  'an-c3': 'affluent',
  'an-c4': 'affluent',
  'an-c6': 'affluent',
  'an-c8': 'affluent',
};

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  await publish(definition('an-loan'));
  await stack.definitions.createDraft({ ...definition('an-loan'), version: 2 }, 'test-designer'); // version 2: a draft, never the default
  await publish(definition('an-live'));
  await publish(
    definition('an-lift', [
      { key: 'g1', label: 'Goal 1' },
      { key: 'g2', label: 'Goal 2' },
    ]),
  );
  for (const [id, segment] of Object.entries(SEGMENT))
    await stack.testDb.db.customer.create({ data: { id, segment, rmId: id === 'an-c1' || id === 'an-c2' ? RM_ID : 'rm-other' } });
  for (const j of [J1, J2, J3, J4, J5, J6, J7, J8]) await seed(j);

  // Surveys: CSAT 5, 4, 2 (and one without a numeric score, not counted); NPS 10, 10, 9, 8, 6 (J7's 0 is outside the
  // period); a CES answer recorded before answers named their template (its touchpoint is the survey kind).
  await log(J1, 'feedback', { survey: 'csat', template: 'lifecycle-csat', score: 5 });
  await log(J2, 'feedback', { survey: 'csat', template: 'lifecycle-csat', score: 4 });
  await log(J3, 'feedback', { survey: 'csat', template: 'lifecycle-csat', score: 2 });
  await log(J3, 'feedback', { survey: 'csat', template: 'lifecycle-csat', score: null });
  for (const [j, score] of [
    [J1, 10],
    [J2, 10],
    [J3, 9],
    [J4, 8],
    [J8, 6],
    [J7, 0],
  ] as const)
    await log(j, 'feedback', { survey: 'nps', template: 'insurance-nps', score });
  await log(J2, 'feedback', { survey: 'ces', score: 3 });

  await message(J1, 'an-welcome', 'email', [['created'], ['sent'], ['delivered']]);
  await message(J1, 'an-nudge', 'sms', [['created'], ['deferred', 'quiet_hours'], ['sent']]);
  await message(J2, 'an-welcome', 'email', [['created'], ['suppressed', 'no_consent']]);
  await message(J2, 'an-nudge', 'sms', [['created'], ['deferred', 'quiet_hours'], ['deferred', 'quiet_hours'], ['dropped', 'journey_ended']]);
  await message(J3, 'an-welcome', 'email', [['created'], ['sent'], ['failed', 'bounced']]);
  await message(J7, 'an-welcome', 'email', [['created'], ['sent']]);

  // The lift's data set: 40 treated, 30 control; g1 reached by 20 treated and 9 control, g2 by 30 treated and 6 control.
  await stack.testDb.db.customer.create({ data: { id: 'an-lift-c' } });
  const lift = (cohort: 'treated' | 'control', i: number, goals: string[]) =>
    stack.testDb.db.journey.create({
      data: {
        workflowId: `an-lift:${cohort}:${i}`,
        customerId: 'an-lift-c',
        journeyKey: 'an-lift',
        version: 1,
        stage: 's1',
        stageEnteredAt: at(T0),
        startedAt: at(T0),
        cohort,
        goals,
      },
    });
  for (let i = 0; i < 40; i++) await lift('treated', i, [...(i < 20 ? ['g1'] : []), ...(i < 30 ? ['g2'] : [])]);
  for (let i = 0; i < 30; i++) await lift('control', i, [...(i < 9 ? ['g1'] : []), ...(i < 6 ? ['g2'] : [])]);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const get = async (path: string) => (await api(app, 'ops').get(path).expect(200)).body;
const figure = (name: string, query = PERIOD, key = 'an-loan') => get(`/v1/analytics/journeys/${key}/${name}?${query}`);

describe('the funnel', () => {
  it('in the period (J1–J6, J8; J7 started after it): entered, current, converted to a later stage, median and p90 of the visits that are over, goals', async () => {
    const f = await figure('funnel');
    expect(f).toMatchObject({ journeyKey: 'an-loan', from: '2026-03-01T00:00:00.000Z', to: '2026-03-31T00:00:00.000Z', total: 7 });
    expect(f.stages).toEqual([
      // s1 visits that are over: J8 0.5 h, J1 1, J6 1 (failed), J2 2, J4 2, J3 4 → sorted [0.5, 1, 1, 2, 2, 4] h.
      // median at position 5·0.5 = 2.5 → (1 + 2)/2 = 1.5 h; p90 at 5·0.9 = 4.5 → 2 + 0.5·(4 − 2) = 3 h. Moved on: J1,
      // J2, J3, J4 (straight to s3), J8 = 5. Still in s1: J5.
      { stage: 's1', label: 'Aware', entered: 7, current: 1, convertedToNext: 5, medianMsInStage: 1.5 * H, p90MsInStage: 3 * H },
      // s2 visits: J3 1 h (until its exit), J1 2, J8 2.5 (until it completed), J2 4 → median at 1.5 → 2.25 h; p90 at
      // 2.7 → 2.5 + 0.7·1.5 = 3.55 h. Moved on: J1, J2.
      { stage: 's2', label: 'Compare', entered: 4, current: 0, convertedToNext: 2, medianMsInStage: 2.25 * H, p90MsInStage: 3.55 * H },
      // s3: J1 4 h is the only visit over (J2 and J4 are still in it).
      { stage: 's3', label: 'Apply', entered: 3, current: 2, convertedToNext: 1, medianMsInStage: 4 * H, p90MsInStage: 4 * H },
      { stage: 's4', label: 'Repay', entered: 1, current: 0, convertedToNext: null, medianMsInStage: 3 * H, p90MsInStage: 3 * H },
    ]);
    expect(f.goals).toEqual([
      { key: 'applied', reached: 4 },
      { key: 'repaid', reached: 1 },
    ]);
  });

  it('without a period: every journey of the key (J7 too)', async () => {
    const f = await figure('funnel', '');
    expect(f).toMatchObject({ from: null, to: null, total: 8 });
    expect(f.stages[0]).toMatchObject({ entered: 8, current: 2 });
  });

  it('version 1 leaves out J6: s1 visits [0.5, 1, 2, 2, 4] h → median 2 h, p90 at 3.6 → 2 + 0.6·2 = 3.2 h', async () => {
    const f = await figure('funnel', `${PERIOD}&version=1`);
    expect(f.total).toBe(6);
    expect(f.stages[0]).toEqual({ stage: 's1', label: 'Aware', entered: 6, current: 1, convertedToNext: 5, medianMsInStage: 2 * H, p90MsInStage: 3.2 * H });
    expect((await figure('funnel', `${PERIOD}&version=2`)).total).toBe(1);
  });

  it("segment 'young' (J1, J2, J5): s1 visits 1 and 2 h → median 1.5 h, p90 1.9 h", async () => {
    const f = await figure('funnel', `${PERIOD}&segment=young`);
    expect(f.total).toBe(3);
    expect(f.stages.map((s: { entered: number }) => s.entered)).toEqual([3, 2, 2, 1]);
    expect(f.stages[0]).toMatchObject({ current: 1, convertedToNext: 2, medianMsInStage: 1.5 * H, p90MsInStage: 1.9 * H });
    expect(f.goals).toEqual([
      { key: 'applied', reached: 2 },
      { key: 'repaid', reached: 1 },
    ]);
  });

  it("variant 'A' (J1, J3, from their split entries)", async () => {
    const f = await figure('funnel', `${PERIOD}&variant=A`);
    expect(f.total).toBe(2);
    expect(f.stages[1]).toMatchObject({ entered: 2, convertedToNext: 1, medianMsInStage: 1.5 * H });
    expect((await figure('funnel', `${PERIOD}&variant=B`)).total).toBe(1);
    expect((await figure('funnel', `${PERIOD}&variant=none`)).total).toBe(0);
  });
});

describe('the other figures', () => {
  it('time in stage: the visits that are over, counted, with median and p90', async () => {
    expect(await figure('time-in-stage')).toEqual({
      journeyKey: 'an-loan',
      stages: [
        { stage: 's1', label: 'Aware', count: 6, medianMs: 1.5 * H, p90Ms: 3 * H },
        { stage: 's2', label: 'Compare', count: 4, medianMs: 2.25 * H, p90Ms: 3.55 * H },
        { stage: 's3', label: 'Apply', count: 1, medianMs: 4 * H, p90Ms: 4 * H },
        { stage: 's4', label: 'Repay', count: 1, medianMs: 3 * H, p90Ms: 3 * H },
      ],
    });
  });

  it('breakpoints: running journeys by stage and waiting step (median time waiting), exits by stage, status and reason', async () => {
    const b = await figure('breakpoints');
    expect(b.stalls).toHaveLength(2);
    // J2 waits since 2 h ago and J4 since 4 h ago: median 3 h (plus the seconds since they were written).
    expect(b.stalls[0]).toMatchObject({ stage: 's3', step: 'apply-wait', count: 2 });
    expect(b.stalls[0].medianWaitingMs).toBeGreaterThanOrEqual(3 * H);
    expect(b.stalls[0].medianWaitingMs).toBeLessThan(3 * H + 120_000);
    // J5 waits at no step (stuck); J7's delay is outside the period.
    expect(b.stalls[1]).toEqual({ stage: 's1', step: null, count: 1, medianWaitingMs: null });
    expect(b.exits).toEqual([
      { stage: 's1', status: 'failed', reason: 'step_budget', count: 1 },
      { stage: 's2', status: 'exited', reason: 'opted_out', count: 1 },
    ]);
  });

  it('feedback: CSAT (5+4+2)/3, NPS (3 promoters − 1 detractor)/5 = 40 with average 43/5, CES by its survey kind', async () => {
    const f = await figure('feedback');
    expect(f.touchpoints).toHaveLength(3);
    expect(f.touchpoints[0]).toEqual({ touchpoint: 'ces', kind: 'ces', responses: 1, average: 3 });
    expect(f.touchpoints[1]).toMatchObject({ touchpoint: 'insurance-nps', kind: 'nps', responses: 5, promoters: 3, passives: 1, detractors: 1 });
    expect(f.touchpoints[1].average).toBeCloseTo(8.6, 10);
    expect(f.touchpoints[1].nps).toBeCloseTo(40, 10);
    expect(f.touchpoints[2]).toMatchObject({ touchpoint: 'lifecycle-csat', kind: 'csat', responses: 3 });
    expect(f.touchpoints[2].average).toBeCloseTo(11 / 3, 10);
    expect(f.touchpoints[2]).not.toHaveProperty('nps');
    // Segment 'affluent' (J3, J4, J8): NPS 9, 8, 6 → (1 − 1)/3 = 0.
    const affluent = await figure('feedback', `${PERIOD}&segment=affluent`);
    expect(affluent.touchpoints.find((t: { kind: string }) => t.kind === 'nps')).toMatchObject({ responses: 3, promoters: 1, passives: 1, detractors: 1, nps: 0 });
  });

  it('messages: each outcome its story holds, once per message, with the reasons', async () => {
    expect((await figure('messages')).rows).toEqual([
      { template: 'an-nudge', channel: 'sms', total: 2, sent: 1, delivered: 0, failed: 0, suppressed: 0, deferred: 2, dropped: 1, reasons: { quiet_hours: 2, journey_ended: 1 } },
      { template: 'an-welcome', channel: 'email', total: 3, sent: 2, delivered: 1, failed: 1, suppressed: 1, deferred: 0, dropped: 0, reasons: { no_consent: 1, bounced: 1 } },
    ]);
    // Variant B is J2 alone.
    expect((await figure('messages', `${PERIOD}&variant=B`)).rows.map((r: { template: string; total: number }) => [r.template, r.total])).toEqual([
      ['an-nudge', 1],
      ['an-welcome', 1],
    ]);
  });

  it('lift: per goal, treated against control, with the unpooled two-proportion 95 % interval', async () => {
    const { goals } = await figure('lift', '', 'an-lift');
    expect(goals).toHaveLength(2);
    // g1: 20/40 = 0.5 against 9/30 = 0.3 → lift 0.2; SE = √(0.5·0.5/40 + 0.3·0.7/30) = √0.01325 = 0.1151086;
    // 1.96·SE = 0.2256088 → [−0.0256088, 0.4256088]: includes 0, not significant.
    expect(goals[0]).toMatchObject({ key: 'g1', treated: { n: 40, converted: 20, rate: 0.5 }, control: { n: 30, converted: 9, rate: 0.3 }, significant: false });
    expect(goals[0].lift).toBeCloseTo(0.2, 10);
    expect(goals[0].ci95[0]).toBeCloseTo(-0.0256088, 6);
    expect(goals[0].ci95[1]).toBeCloseTo(0.4256088, 6);
    // g2: 30/40 = 0.75 against 6/30 = 0.2 → lift 0.55; SE = √(0.75·0.25/40 + 0.2·0.8/30) = √0.0100208 = 0.1001041;
    // 1.96·SE = 0.1962005 → [0.3537995, 0.7462005]: excludes 0, significant.
    expect(goals[1]).toMatchObject({ key: 'g2', treated: { n: 40, converted: 30, rate: 0.75 }, control: { n: 30, converted: 6, rate: 0.2 }, significant: true });
    expect(goals[1].lift).toBeCloseTo(0.55, 10);
    expect(goals[1].ci95[0]).toBeCloseTo(0.3537995, 6);
    expect(goals[1].ci95[1]).toBeCloseTo(0.7462005, 6);
  });

  it('lift without a control group has no interval', async () => {
    const { goals } = await figure('lift', `${PERIOD}&variant=A`);
    expect(goals[0]).toEqual({
      key: 'applied',
      treated: { n: 2, converted: 1, rate: 0.5 },
      control: { n: 0, converted: 0, rate: null },
      lift: null,
      ci95: null,
      significant: false,
    });
  });

  it('the map: running journeys of the published version per stage and per step a flow can wait at', async () => {
    expect(await figure('map', '')).toEqual({
      journeyKey: 'an-loan',
      version: 1,
      stages: [
        { stage: 's1', label: 'Aware', current: 2 },
        { stage: 's2', label: 'Compare', current: 0 },
        { stage: 's3', label: 'Apply', current: 2 },
        { stage: 's4', label: 'Repay', current: 0 },
      ],
      steps: [
        { step: 'aware-delay', waiting: 1 },
        { step: 'apply-wait', waiting: 2 },
        { step: 'triggers[3].steps[0]', waiting: 0 },
        { step: 'triggers[3].steps[1]', waiting: 0 },
      ],
    });
    expect((await figure('map', PERIOD)).steps[0]).toEqual({ step: 'aware-delay', waiting: 0 });
  });

  it('bad filters answer 400, an unknown journey 404', async () => {
    const ops = api(app, 'ops');
    expect((await ops.get('/v1/analytics/journeys/an-loan/funnel?from=yesterday').expect(400)).body.error.code).toBe('invalid_request');
    expect((await ops.get(`/v1/analytics/journeys/an-loan/funnel?from=${at(T0 + D).toISOString()}&to=${at(T0).toISOString()}`).expect(400)).body.error.code).toBe(
      'invalid_request',
    );
    expect((await ops.get('/v1/analytics/journeys/an-loan/lift?version=0').expect(400)).body.error.code).toBe('invalid_request');
    expect((await ops.get('/v1/analytics/journeys/an-loan/funnel?from=0000-01-01T00:00:00Z').expect(400)).body.error.code).toBe('invalid_request');
    expect((await ops.get('/v1/analytics/journeys/an-loan/map?stage=s1').expect(400)).body.error.code).toBe('invalid_request');
    expect((await ops.get('/v1/analytics/journeys/no-such/funnel').expect(404)).body.error.code).toBe('not_found');
    expect((await ops.get('/v1/analytics/journeys/an-loan/funnel?version=9').expect(404)).body.error.code).toBe('not_found');
  });
});

describe('the journey list', () => {
  const ids = (body: { items: { workflowId: string }[] }) => body.items.map((i) => i.workflowId);

  it('pages newest first through every journey of a key', async () => {
    const ops = api(app, 'ops');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { workflowId: string }[]; nextCursor: string | null } = (
        await ops.get(`/v1/journeys?journeyKey=an-loan&limit=3${cursor ? `&cursor=${cursor}` : ''}`).expect(200)
      ).body;
      seen.push(...ids(page));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(['an:J7', 'an:J8', 'an:J6', 'an:J5', 'an:J4', 'an:J3', 'an:J2', 'an:J1']);
    const first = (await ops.get('/v1/journeys?journeyKey=an-loan&limit=1').expect(200)).body.items[0];
    expect(first).toEqual({
      workflowId: 'an:J7',
      customerId: 'an-c7',
      journeyKey: 'an-loan',
      version: 1,
      status: 'running',
      exitReason: null,
      stage: 's1',
      stageEnteredAt: at(T0 + 40 * D).toISOString(),
      waiting: ['aware-delay'],
      waitingSince: expect.any(String),
      startedAt: at(T0 + 40 * D).toISOString(),
      endedAt: null,
      cohort: 'treated',
    });
  });

  it('lists as stuck the running journeys whose recorded waits are none, longest idle shown with its instant; not those waiting at a step, ended ones or those never recorded', async () => {
    const db = stack.testDb.db;
    const base = { customerId: 'an-c5', journeyKey: 'an-idle', version: 1, stage: 's1', stageEnteredAt: at(T0), startedAt: at(T0) };
    const idleSince = new Date(Date.now() - 3 * H);
    await db.journey.createMany({
      data: [
        { ...base, workflowId: 'an-idle:stuck', status: 'running', waiting: [], waitingSince: idleSince },
        { ...base, workflowId: 'an-idle:waiting', status: 'running', waiting: ['s1.onEnter.0'], waitingSince: idleSince },
        { ...base, workflowId: 'an-idle:ended', status: 'completed', waiting: [], waitingSince: idleSince, endedAt: idleSince },
        { ...base, workflowId: 'an-idle:unrecorded', status: 'running', waiting: [], waitingSince: null },
      ],
    });
    const page = (await api(app, 'ops').get('/v1/journeys?stuck=true').expect(200)).body;
    expect(ids(page)).toEqual(['an-idle:stuck']);
    expect(page.items[0]).toMatchObject({ waiting: [], waitingSince: idleSince.toISOString() });
    expect((await api(app, 'ops').get('/v1/journeys?stuck=false').expect(400)).body.error.code).toBe('invalid_request');
    await db.journey.deleteMany({ where: { journeyKey: 'an-idle' } });
  });

  it('filters by stage, status and cohort; an rm lists only its own customers’ journeys; a forged cursor is refused', async () => {
    const ops = api(app, 'ops');
    expect(ids((await ops.get('/v1/journeys?journeyKey=an-loan&stage=s3&status=running').expect(200)).body)).toEqual(['an:J4', 'an:J2']);
    expect(ids((await ops.get('/v1/journeys?journeyKey=an-loan&cohort=control').expect(200)).body)).toEqual(['an:J8', 'an:J5', 'an:J4']);
    expect(ids((await api(app, 'rm').get('/v1/journeys?journeyKey=an-loan').expect(200)).body)).toEqual(['an:J2', 'an:J1']);
    expect((await ops.get('/v1/journeys?cursor=bm90LWEtY3Vyc29y').expect(400)).body.error.code).toBe('invalid_cursor');
    const farOff = Buffer.from(JSON.stringify({ s: '+275760-01-01T00:00:00Z', w: 'x' })).toString('base64url');
    expect((await ops.get(`/v1/journeys?cursor=${farOff}`).expect(400)).body.error.code).toBe('invalid_cursor');
    // A NUL or a lone surrogate inside the base64 gets past the query's string check: the cursor's own check refuses it.
    for (const w of ['\u0000', '\ud800', 'x'.repeat(600)]) {
      const hidden = Buffer.from(JSON.stringify({ s: '2020-01-01T00:00:00Z', w })).toString('base64url');
      expect((await ops.get(`/v1/journeys?cursor=${hidden}`).expect(400)).body.error.code).toBe('invalid_cursor');
    }
    expect((await ops.get('/v1/journeys?status=paused').expect(400)).body.error.code).toBe('invalid_request');
    // A list names customers: each is recorded in the audit log (an rm's too), with what it asked for.
    const listed = await eventually(
      () => stack.testDb.db.auditLog.findMany({ where: { action: 'journey.list', role: 'rm' } }),
      (rows) => rows.length === 1,
    );
    expect(listed[0]).toMatchObject({ outcome: 'ok', status: 200, targetType: 'journey', detail: { count: 2, journeyKey: 'an-loan' } });
  });
});

describe('a journey run through the worker', () => {
  it('shows in the funnel and in the map: its stage, then a step it waits at without a stage move, then a new stage and its wait', async () => {
    const system = api(app, 'system');
    await system.put('/v1/customers/an-live-c').send({ name: 'Live', segment: 'young' }).expect(201);
    const { workflowId } = (await system.post('/v1/journeys').send({ journeyKey: 'an-live', customerId: 'an-live-c' }).expect(201)).body;
    const map = () => figure('map', '', 'an-live');
    const steps = (m: { steps: { step: string; waiting: number }[] }) => Object.fromEntries(m.steps.map((s) => [s.step, s.waiting]));
    await eventually(map, (m) => m.stages[0].current === 1);

    await system
      .post(`/v1/journeys/${encodeURIComponent(workflowId)}/events`)
      .send({ eventId: 'an-live-1', type: 'product.viewed', data: {} })
      .expect(202);
    // No stage move: the waiting step is written by itself.
    const waiting = await eventually(map, (m) => steps(m)['aware-delay'] === 1);
    expect(waiting.stages.map((s: { current: number }) => s.current)).toEqual([1, 0, 0, 0]);

    await system
      .post(`/v1/journeys/${encodeURIComponent(workflowId)}/events`)
      .send({ eventId: 'an-live-2', type: 'product.purchased', data: {} })
      .expect(202);
    const moved = await eventually(map, (m) => m.stages[2].current === 1);
    expect(steps(moved)).toEqual({ 'aware-delay': 1, 'apply-wait': 1, 'triggers[3].steps[0]': 0, 'triggers[3].steps[1]': 0 });

    const f = await figure('funnel', '', 'an-live');
    expect(f.total).toBe(1);
    expect(f.stages.map((s: { entered: number; current: number }) => [s.entered, s.current])).toEqual([
      [1, 0],
      [0, 0],
      [1, 1],
      [0, 0],
    ]);
    expect(f.stages[0].convertedToNext).toBe(1);
    const row = await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } });
    expect(row.waiting).toEqual(['apply-wait', 'aware-delay']);
    expect(row.waitingSince).not.toBeNull();
  });
});
