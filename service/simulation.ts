// Simulation: a definition run in virtual time for a scripted customer, with no Temporal and no sends. The same
// engine the workflow drives, so the timeline is what the journey would do. The engine runs in a pool of worker
// threads (piscina) under a wall-clock budget: a definition that keeps it busy for good costs one pool thread until
// the budget ends, then that thread is terminated and replaced; the API's event loop never runs the engine.
import { Piscina } from 'piscina';
import type { z } from 'zod';
import type { JourneyDefinition } from '../engine/definition.js';
import { checkParams } from './journeys.js';
import type { DefinitionStore } from './definitions.js';
import { Invalid, notFound, RateLimited, Unprocessable } from './errors.js';
import type { SimulationOutcome, SimulationTask } from './simulation-task.js';
import type { SimulateBody } from './schemas.js';

/** The module each pool thread loads. Compiled (`npm run build`), the task module itself, whose default export is the
 * task; run from the TypeScript sources, a shim that loads it through tsx (simulation-worker.mjs), because a worker
 * thread does not inherit a TypeScript loader in every setting. The compiled service never loads tsx. */
const threadModule = import.meta.url.endsWith('.ts') ? new URL('./simulation-worker.mjs', import.meta.url).href : new URL('./simulation-task.js', import.meta.url).href;

export interface SimulatorOptions {
  /** Wall-clock budget of one simulation, queueing included. */
  timeoutMs: number;
  /** Threads at most. */
  threads: number;
  /** Inputs (events and timers) one simulation may apply; unset → the engine's default. */
  maxInputs?: number;
}

export type SimulationResult = Extract<SimulationOutcome, { ok: true }>['result'];

/** The thread pool simulations run in. One per process (the API's composition root), closed on shutdown. */
export class Simulator {
  private readonly pool: Piscina<SimulationTask, SimulationOutcome>;
  private pending = 0;

  constructor(readonly options: SimulatorOptions = { timeoutMs: 5_000, threads: 1 }) {
    this.pool = new Piscina({
      filename: threadModule,
      minThreads: 0,
      maxThreads: options.threads,
      // Loading the engine into a fresh thread takes a moment: an idle thread is kept a while for the next request.
      idleTimeout: 60_000,
      // Requests waiting for a thread: beyond these, callers are asked to come back rather than queue for minutes.
      maxQueue: options.threads * 8,
      // A definition that piles up state hits this before it can take the process's memory.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
  }

  async run(task: SimulationTask): Promise<SimulationResult> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let outcome: SimulationOutcome;
    this.pending++;
    try {
      outcome = await this.pool.run(this.options.maxInputs === undefined ? task : { ...task, maxInputs: this.options.maxInputs }, { signal });
    } catch (err) {
      // Aborting a running task terminates its thread; the pool starts a fresh one for the next task.
      if (signal.aborted) throw overBudget(`the simulation did not finish within ${this.options.timeoutMs} ms`);
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') throw overBudget('the simulation ran out of its memory budget');
      if (typeof e.message === 'string' && /queue is at limit/i.test(e.message))
        throw new RateLimited('simulation_busy', 'too many simulations are running; try again shortly', Math.ceil(this.options.timeoutMs / 1000));
      throw err;
    } finally {
      this.pending--;
    }
    if (!outcome.ok) throw new Unprocessable(outcome.code, outcome.message);
    return outcome.result;
  }

  /** Simulations handed to the pool and not answered yet (queued or running). */
  get inFlight(): number {
    return this.pending;
  }

  /** Stops the threads; a simulation still running is abandoned. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

const overBudget = (why: string) => new Unprocessable('simulation_budget', `${why}: simulate a shorter horizon, fewer events, or a definition that waits between steps`);

export async function runSimulation(definitions: DefinitionStore, simulator: Simulator, body: z.infer<typeof SimulateBody>): Promise<SimulationResult> {
  let def: JourneyDefinition;
  if (body.definition !== undefined) def = definitions.parse(body.definition);
  else if (body.version !== undefined) def = (await definitions.get(body.key!, body.version)).definition;
  else {
    const stored = await definitions.latestPublished(body.key!);
    if (!stored) throw notFound('journey', body.key!);
    def = stored.definition;
  }
  const params = checkParams(def, body.params ?? {}, definitions.durationLimits);
  const startAt = body.start ?? new Date().toISOString();
  if (Date.parse(body.until) <= Date.parse(startAt)) throw new Invalid('invalid_request', '"until" must be after "start"');
  const { attributes, segment, timeZone, locale } = body.customer;
  return simulator.run({
    definition: def,
    customerId: body.customer.id ?? 'simulated-customer',
    params,
    profile: { ...(segment !== undefined ? { segment } : {}), ...(timeZone ? { timeZone } : {}), ...(locale ? { locale } : {}), ...(attributes ? { attributes } : {}) },
    start: new Date(startAt).toISOString(),
    until: new Date(body.until).toISOString(),
    // The cohort asked for, named as the journey's own holdout when it has one (else as the global group's).
    ...(body.cohort ? { holdout: { cohort: body.cohort, source: def.holdout ? 'journey' : 'global', percent: def.holdout?.percent ?? 0 } } : {}),
    inputs: body.events.map((e, i) => ({
      at: new Date(e.at).toISOString(),
      input: { type: 'event', event: { eventId: e.eventId ?? `sim-${i + 1}`, type: e.type, occurredAt: new Date(e.at).toISOString(), data: e.data ?? {} } },
    })),
  });
}
