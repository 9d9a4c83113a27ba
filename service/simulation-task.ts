// What a simulation thread runs: the engine in virtual time over a definition already parsed and params already
// resolved by the API. It runs in a worker thread of the simulation pool (service/simulation.ts), never on the API's
// event loop, so a definition that keeps the engine busy costs one pool thread until the pool's deadline stops it.
import type { JourneyDefinition, ParamValues } from '../engine/definition.js';
import { EngineError, type Holdout, type Profile } from '../engine/engine.js';
import { describe, type ScriptedInput, simulate, type TimelineEntry } from '../engine/simulate.js';

export interface SimulationTask {
  definition: JourneyDefinition;
  customerId: string;
  params: ParamValues;
  profile: Profile;
  start: string;
  until: string;
  inputs: ScriptedInput[];
  maxInputs?: number;
  holdout?: Holdout;
}

/** Errors do not cross a thread boundary with their class: the outcome says what kind of failure it was. */
export type SimulationOutcome = { ok: true; result: ReturnType<typeof summarize> } | { ok: false; code: string; message: string };

function summarize(def: JourneyDefinition, r: ReturnType<typeof simulate>, ms: number) {
  const timeline: TimelineEntry[] = r.timeline.map((t) => describe(t.command, t.at));
  return {
    journeyKey: def.key,
    version: def.version,
    status: r.state.status,
    stage: r.state.stage,
    ...(r.state.endReason ? { endReason: r.state.endReason, endedAt: r.state.endedAt } : {}),
    goals: r.state.goals ?? [],
    variants: r.state.variants ?? {},
    stages: r.state.stageHistory,
    timeline,
    timers: r.timers,
    messages: timeline.filter((t) => t.kind === 'send'),
    tasks: timeline.filter((t) => t.kind === 'task'),
    /** Which case each branch took and why, and the sends and tasks flows never made (cancelled, stage left, ended). */
    decisions: timeline.filter((t) => t.kind === 'branch' || t.kind === 'send_skipped'),
    pending: {
      waitingFor: [...new Set(r.state.flows.flatMap((f) => (f.waiting?.kind === 'event' ? f.waiting.events : [])))],
      nextTimers: r.state.flows.flatMap((f) => (f.waiting?.until ? [{ flow: f.name, until: f.waiting.until }] : [])),
    },
    stats: { inputs: r.steps, ms: Math.round(ms * 100) / 100 },
  };
}

export function runSimulationTask(task: SimulationTask): SimulationOutcome {
  const started = performance.now();
  try {
    const r = simulate(task.definition, {
      customerId: task.customerId,
      params: task.params,
      profile: task.profile,
      start: task.start,
      until: task.until,
      inputs: task.inputs,
      ...(task.holdout ? { holdout: task.holdout } : {}),
      ...(task.maxInputs !== undefined ? { maxInputs: task.maxInputs } : {}),
      // A preview shows what a journey started today does, decisions and skipped sends included.
      engine: { recordDecisions: true },
    });
    return { ok: true, result: summarize(task.definition, r, performance.now() - started) };
  } catch (err) {
    // The engine names what in the definition it cannot run; anything else it throws (a date out of range from an
    // absurd duration) is just as much the definition's doing. Neither carries customer data.
    // A budget of the engine (steps without waiting) or of the simulator (inputs applied) is the simulation's budget.
    if (err instanceof EngineError) return { ok: false, code: err.code === 'step_budget' ? 'simulation_budget' : err.code, message: err.message };
    if (err instanceof RangeError)
      return { ok: false, code: 'engine_error', message: `the definition cannot be simulated: a time it computes is out of range (${err.message}); check its durations` };
    throw err;
  }
}

export default runSimulationTask;
