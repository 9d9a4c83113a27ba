// Simulation runs off the request thread, under a wall-clock budget: a definition that keeps the engine busy answers
// 422 and never stalls the API; whatever the engine refuses answers 4xx with its message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../service/simulation.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

const BUDGET_MS = 2_000;
let stack: Stack;
let simulator: Simulator;
let app: ReturnType<typeof createStackApp>;

beforeAll(async () => {
  stack = await startStack();
  simulator = new Simulator({ timeoutMs: BUDGET_MS, threads: 1 });
  app = createStackApp(stack, { simulator });
});
afterAll(async () => {
  await simulator?.close();
  await stack?.stop();
});

/** A one-stage journey whose stage runs `steps` on entry. */
const journey = (steps: unknown[]) => ({ key: 'sim-probe', version: 1, name: 'Simulation probe', stages: [{ key: 'only', label: 'Only', onEnter: steps }], initialStage: 'only' });
const simulate = (body: object) => api(app).post('/v1/journey-definitions/simulate').send(body);

describe('simulation off the request thread', () => {
  it("a definition that loops every second for ten years answers 422 simulation_budget at the simulator's input budget", async () => {
    const looping = journey([
      { type: 'delay', id: 'tick', duration: 'PT1S' },
      { type: 'goto', target: 'tick' },
    ]);
    // A small input budget and a generous clock, so the input budget is what stops it.
    const counted = new Simulator({ timeoutMs: 60_000, threads: 1, maxInputs: 5_000 });
    const capp = createStackApp(stack, { simulator: counted });
    const res = await api(capp).post('/v1/journey-definitions/simulate').send({ definition: looping, start: '2026-01-01T00:00:00Z', until: '2035-12-31T00:00:00Z' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('simulation_budget');
    expect(res.body.error.message).toMatch(/applied 5000 inputs/);
    await counted.close();
  });

  it('a definition that keeps the engine busy past the wall-clock budget answers 422 simulation_budget, and /healthz answers meanwhile', async () => {
    // Two thousand steps on every tick: far under the engine's per-input step budget, far over the time budget.
    const busy = Array.from({ length: 2_000 }, () => ({ type: 'branch', cases: [{ when: 'params.never == 1', steps: [{ type: 'exit', reason: 'never' }] }] }));
    const looping = journey([{ type: 'delay', id: 'tick', duration: 'PT1S' }, ...busy, { type: 'goto', target: 'tick' }]);
    let settled = false;
    const runaway = simulate({ definition: looping, start: '2026-01-01T00:00:00Z', until: '2035-12-31T00:00:00Z' }).then((r) => ((settled = true), r));
    // Once the simulation is in the pool, the API's own thread is free.
    await eventually(
      async () => simulator.inFlight,
      (n) => n === 1,
      5_000,
    );
    const t0 = performance.now();
    await api(app).get('/healthz').expect(200);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(settled).toBe(false);
    const res = await runaway;
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('simulation_budget');
    expect(res.body.error.message).toContain(`${BUDGET_MS} ms`);
  });

  it('a simulation after a runaway one runs on a fresh thread and answers', async () => {
    const res = await simulate({
      definition: journey([
        { type: 'delay', duration: 'P1D' },
        { type: 'complete', reason: 'done' },
      ]),
      start: '2026-01-01T00:00:00Z',
      until: '2026-02-01T00:00:00Z',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed', endReason: 'done' });
  });

  it('a delay PT0S → goto loop answers 4xx, and other requests are answered meanwhile', async () => {
    const spinning = journey([
      { type: 'delay', id: 'spin', duration: 'PT0S' },
      { type: 'goto', target: 'spin' },
    ]);
    const pending = simulate({ definition: spinning, start: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' });
    await api(app).get('/healthz').expect(200);
    const res = await pending;
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(typeof res.body.error.code).toBe('string');
    expect(typeof res.body.error.message).toBe('string');
  });

  it('a goto to a missing target answers 4xx naming the target', async () => {
    const res = await simulate({ definition: journey([{ type: 'goto', target: 'nowhere' }]), start: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error.message).toContain('nowhere');
  });

  it('a P999999999Y delay answers 4xx', async () => {
    const res = await simulate({
      definition: journey([{ type: 'delay', duration: 'P999999999Y' }, { type: 'complete' }]),
      start: '2026-01-01T00:00:00Z',
      until: '2026-01-02T00:00:00Z',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(typeof res.body.error.message).toBe('string');
  });

  it('a century-long "until" without "start" answers 400 at once', async () => {
    const t0 = performance.now();
    const res = await simulate({ key: 'bank-loan', until: '2126-01-01T00:00:00Z' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain('ten years');
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
