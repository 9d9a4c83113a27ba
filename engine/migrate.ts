// Moving a running journey from one version of its definition to another. Pure and deterministic like the rest of the
// engine: the workflow calls `migrateState` at a safe point (between inputs), the API calls `planMove` for a dry run
// over the read model, and both refuse with the same words. The program layout (flows' `pc`) belongs to a definition,
// so a move maps every flow's waiting step onto a step of the new version that waits for the same kind of thing, and
// every stage in use onto a stage of the new version; timers keep their due times, counters their values (so the
// idempotency keys of what was already sent are never made again), and nothing already run runs again.
import type { JourneyDefinition, Step } from './definition.js';
import { DEFAULT_DURATION_LIMITS, type DurationLimits } from './duration.js';
import { ParamsError, type ParamValues, resolveParams } from './params.js';
import { type Command, compile, type Flow, type JourneyState, stepRef } from './engine.js';
import { kindOf } from './kinds/index.js';

/** How old stages and steps (by step `id`, or by path such as `stages[2].onEnter[1]`) land in the new version. Whatever
 * is not named maps to the stage or step with the same key, id or path in the new version, if there is one. */
export interface MigrationMap {
  stages?: Record<string, string>;
  steps?: Record<string, string>;
}

export type MigrationErrorCode =
  /** The two definitions are not versions of the journey, or the journey does not run the old one. */
  | 'migration_mismatch'
  /** The journey has ended (or is not at a safe point): there is nothing to move. */
  | 'not_running'
  /** A stage in use has no stage in the new version (none of the same key, none in the map). */
  | 'unmapped_stage'
  /** A waiting step has no step in the new version (none of the same id or path, none in the map). */
  | 'unmapped_step'
  /** The map names a stage or step that one of the versions does not have. */
  | 'unknown_in_map'
  /** A waiting step would land on a step that waits for something else (another kind, other events, other outcomes). */
  | 'incompatible_step'
  /** A parameter the new version declares with another type than the old one, or whose value the new version (its
   * limits, its uses) does not accept. */
  | 'incompatible_param';

export interface MigrationRefusal {
  code: MigrationErrorCode;
  message: string;
  /** The old step (its ref) or stage the refusal is about. */
  step?: string;
  stage?: string;
}

/** Where an instance lands: its stage, and each step it waits at (old ref → new ref). */
export interface Move {
  stage: { from: string; to: string };
  steps: { from: string; to: string }[];
}

/** The stage transition a move makes when the map takes the journey's stage to another key, for the read model. */
export type StageTransition = Extract<Command, { type: 'stageChanged' }>;
export type MigrationResult = { ok: true; state: JourneyState; move: Move; transition?: StageTransition } | { ok: false; error: MigrationRefusal };
export type PlanResult = { ok: true; move: Move } | { ok: false; error: MigrationRefusal };

type Located = { pc: number; step: Step; ref: string; path: string };

/** Every step of a definition by its ref (`id` or path) and by its path. */
function index(def: JourneyDefinition): { byRef: Map<string, Located>; byPc: Located[] } {
  const byRef = new Map<string, Located>();
  const byPc = compile(def).steps.map((slot, pc): Located => ({ pc, step: slot.step, ref: stepRef(slot.step, slot.path), path: slot.path }));
  for (const l of byPc) {
    byRef.set(l.path, l);
    byRef.set(l.ref, l);
  }
  return { byRef, byPc };
}

const refuse = (error: MigrationRefusal): { ok: false; error: MigrationRefusal } => ({ ok: false, error });
/** Why a journey waiting at `from` could not wait at `to` instead; undefined when it can (the kind decides). */
export function incompatibility(from: Step, to: Step): string | undefined {
  if (from.type !== to.type) return `a ${from.type} step cannot become a ${to.type} step`;
  const waits = kindOf(from).wait;
  return waits === null ? `a ${from.type} step is not one a journey waits at` : waits.movesTo(from, to as typeof from);
}

class Mapper {
  private readonly from: ReturnType<typeof index>;
  private readonly to: ReturnType<typeof index>;
  private readonly stages = new Set<string>();

  constructor(
    readonly oldDef: JourneyDefinition,
    readonly newDef: JourneyDefinition,
    private readonly map: MigrationMap,
  ) {
    this.from = index(oldDef);
    this.to = index(newDef);
    for (const s of newDef.stages) this.stages.add(s.key);
  }

  /** The map itself names only stages and steps the two versions have. */
  checkMap(): MigrationRefusal | undefined {
    if (this.oldDef.key !== this.newDef.key) return { code: 'migration_mismatch', message: `"${this.oldDef.key}" and "${this.newDef.key}" are different journeys` };
    const oldStages = new Set(this.oldDef.stages.map((s) => s.key));
    for (const [a, b] of Object.entries(this.map.stages ?? {})) {
      if (!oldStages.has(a)) return { code: 'unknown_in_map', stage: a, message: `the map moves stage "${a}", which version ${this.oldDef.version} does not have` };
      if (!this.stages.has(b)) return { code: 'unknown_in_map', stage: a, message: `the map moves stage "${a}" to "${b}", which version ${this.newDef.version} does not have` };
    }
    for (const [a, b] of Object.entries(this.map.steps ?? {})) {
      if (!this.from.byRef.has(a)) return { code: 'unknown_in_map', step: a, message: `the map moves step "${a}", which version ${this.oldDef.version} does not have` };
      if (!this.to.byRef.has(b)) return { code: 'unknown_in_map', step: a, message: `the map moves step "${a}" to "${b}", which version ${this.newDef.version} does not have` };
    }
    return undefined;
  }

  stage(key: string): { ok: true; to: string } | { ok: false; error: MigrationRefusal } {
    const given = this.map.stages !== undefined && Object.hasOwn(this.map.stages, key) ? this.map.stages[key] : undefined;
    const to = given ?? (this.stages.has(key) ? key : undefined);
    if (to === undefined) return refuse({ code: 'unmapped_stage', stage: key, message: `stage "${key}" has no stage in version ${this.newDef.version}: map it` });
    return { ok: true, to };
  }

  /** The new home of the step at `ref` (a ref or a path of the old version). */
  step(ref: string): { ok: true; from: Located; to: Located } | { ok: false; error: MigrationRefusal } {
    const from = this.from.byRef.get(ref);
    if (!from) return refuse({ code: 'unknown_in_map', step: ref, message: `step "${ref}" is not a step of version ${this.oldDef.version}` });
    const named = this.map.steps ?? {};
    const given = Object.hasOwn(named, from.ref) ? named[from.ref] : Object.hasOwn(named, from.path) ? named[from.path] : undefined;
    // Implicitly: the step with the same id, else the step at the same path.
    const to =
      given !== undefined
        ? this.to.byRef.get(given)
        : from.step.id !== undefined && this.to.byRef.has(from.step.id)
          ? this.to.byRef.get(from.step.id)
          : this.to.byRef.get(from.path);
    if (!to) return refuse({ code: 'unmapped_step', step: from.ref, message: `step "${from.ref}" (${from.step.type}) has no step in version ${this.newDef.version}: map it` });
    const why = incompatibility(from.step, to.step);
    if (why !== undefined) return refuse({ code: 'incompatible_step', step: from.ref, message: `step "${from.ref}" cannot move to "${to.ref}": ${why}` });
    return { ok: true, from, to };
  }

  atPc(pc: number): Located | undefined {
    return this.from.byPc[pc];
  }

  /** The name a flow gets from where its steps live: `stage:<key>` for a stage's entry steps, the trigger's flow name. */
  homeName(def: JourneyDefinition, path: string): string | undefined {
    const m = /^(stages|triggers)\[(\d+)\]/.exec(path);
    if (!m) return undefined;
    const i = Number(m[2]);
    if (m[1] === 'stages') return def.stages[i] !== undefined ? `stage:${def.stages[i].key}` : undefined;
    const t = def.triggers[i];
    return t === undefined ? undefined : (t.flow ?? `trigger-${i}`);
  }
}

/** The parameters the journey runs with, for the new version: values it has for parameters the new version still
 * declares (with the same type), the new version's defaults for the ones it adds. The values carried are checked as a
 * start checks them (`resolveParams`: types, duration limits for every use in the new version), so a moved journey
 * cannot fail later on a duration the new version would never have started with. */
function migrateParams(
  oldDef: JourneyDefinition,
  newDef: JourneyDefinition,
  params: Readonly<Record<string, unknown>>,
  limits: DurationLimits,
): { ok: true; params: ParamValues } | { ok: false; error: MigrationRefusal } {
  const carried: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(newDef.params)) {
    if (!Object.hasOwn(params, name)) continue;
    const was = Object.hasOwn(oldDef.params, name) ? oldDef.params[name] : undefined;
    if (was !== undefined && was.type !== p.type)
      return refuse({ code: 'incompatible_param', message: `parameter "${name}" is a ${was.type} in version ${oldDef.version} and a ${p.type} in version ${newDef.version}` });
    carried[name] = params[name];
  }
  try {
    return { ok: true, params: resolveParams(newDef, carried, limits) };
  } catch (err) {
    if (!(err instanceof ParamsError)) throw err;
    const first = err.problems[0]!;
    return refuse({ code: 'incompatible_param', message: `parameter "${first.param}" cannot carry its value to version ${newDef.version}: ${first.message}` });
  }
}

/** What the dry run and the live move need beside the two versions: the duration limits a start is held to (the
 * configured ones; default the engine's). */
export interface MigrateOptions {
  limits?: DurationLimits;
}

/** Checks a map on its own: that it names only what the versions have. */
export function checkMap(oldDef: JourneyDefinition, newDef: JourneyDefinition, map: MigrationMap): MigrationRefusal | undefined {
  return new Mapper(oldDef, newDef, map).checkMap();
}

/** Where a journey at `stage`, waiting at `waiting` (step refs, as the read model keeps them) with `params`, would
 * land; for a dry run over many journeys without asking each. It refuses what `migrateState` refuses of such a journey:
 * the map, the stage (which is also the stage of every stage-scoped flow), each waiting step, and the parameters. */
export function planMove(
  oldDef: JourneyDefinition,
  newDef: JourneyDefinition,
  map: MigrationMap,
  at: { stage: string; waiting: readonly string[]; params: Readonly<Record<string, unknown>> },
  opts: MigrateOptions = {},
): PlanResult {
  const m = new Mapper(oldDef, newDef, map);
  const bad = m.checkMap();
  if (bad) return refuse(bad);
  const stage = m.stage(at.stage);
  if (!stage.ok) return stage;
  const params = migrateParams(oldDef, newDef, at.params, opts.limits ?? DEFAULT_DURATION_LIMITS);
  if (!params.ok) return params;
  const steps: Move['steps'] = [];
  for (const ref of at.waiting) {
    const s = m.step(ref);
    if (!s.ok) return s;
    steps.push({ from: s.from.ref, to: s.to.ref });
  }
  return { ok: true, move: { stage: { from: at.stage, to: stage.to }, steps } };
}

/**
 * The journey's state on the new version, or why it cannot move. Never mutates its arguments. Each flow keeps its
 * instance, event and waiting deadline (a delay keeps its due time, a wait its timeout, a task its reference); its
 * program counter moves to the mapped step, its stage to the mapped stage, and its name to the one its new home gives
 * it (a flow that had jumped elsewhere by `goto` keeps its name). The counters (`nextCommandSeq`, `nextFlowId`) carry
 * on, so what the new version sends gets new idempotency keys and what was sent is not sent again. When the map moves
 * the journey's stage to another key, the journey enters it at `now` with cause `migration` (a stage history entry, and
 * the `transition` the read model records).
 *
 * A stage-scoped flow runs in the journey's stage (it stops when the journey leaves it), so the journey's stage is its
 * stage. A journey-scoped flow's stage only records where it started: it takes its stage's new key when there is one,
 * else the journey's, so that history (which the read model does not keep, and the dry run could not check) never
 * refuses a move.
 */
export function migrateState(
  oldDef: JourneyDefinition,
  newDef: JourneyDefinition,
  state: JourneyState,
  map: MigrationMap = {},
  opts: MigrateOptions & { now?: Date } = {},
): MigrationResult {
  const m = new Mapper(oldDef, newDef, map);
  const bad = m.checkMap();
  if (bad) return refuse(bad);
  if (state.journeyKey !== oldDef.key || state.version !== oldDef.version)
    return refuse({ code: 'migration_mismatch', message: `the journey runs ${state.journeyKey}@${state.version}, not ${oldDef.key}@${oldDef.version}` });
  if (state.status !== 'running') return refuse({ code: 'not_running', message: `the journey has ended (${state.status})` });
  const stage = m.stage(state.stage);
  if (!stage.ok) return stage;
  const params = migrateParams(oldDef, newDef, state.params, opts.limits ?? DEFAULT_DURATION_LIMITS);
  if (!params.ok) return params;
  const flows: Flow[] = [];
  const steps: Move['steps'] = [];
  for (const f of state.flows) {
    const at = f.pc >= 0 && f.waiting !== undefined ? m.atPc(f.pc) : undefined;
    if (!at) return refuse({ code: 'not_running', message: `flow "${f.name}" is not waiting at a step (not a safe point)` });
    const s = m.step(at.ref);
    if (!s.ok) return s;
    const flowStage = m.stage(f.stage);
    if (!flowStage.ok && f.scope === 'stage') return flowStage;
    const home = m.homeName(oldDef, at.path);
    const name = home === f.name ? (m.homeName(newDef, s.to.path) ?? f.name) : f.name;
    const waiting = f.waiting!.kind === 'event' && s.to.step.type === 'wait' ? { ...f.waiting!, events: s.to.step.for.map((o) => o.event) } : f.waiting!;
    flows.push({ ...structuredCopy(f), name, stage: flowStage.ok ? flowStage.to : stage.to, pc: s.to.pc, waiting: structuredCopy(waiting) });
    if (!steps.some((x) => x.from === s.from.ref)) steps.push({ from: s.from.ref, to: s.to.ref });
  }
  const next: JourneyState = { ...structuredCopy(state), version: newDef.version, stage: stage.to, params: params.params, flows };
  const move: Move = { stage: { from: state.stage, to: stage.to }, steps: steps.sort((a, b) => (a.from < b.from ? -1 : 1)) };
  if (stage.to === state.stage) return { ok: true, state: next, move };
  // The same place under another name is still a new stage for the read model: the visit to the old key ends here.
  const at = (opts.now ?? new Date(state.stageEnteredAt)).toISOString();
  next.stageEnteredAt = at;
  next.stageHistory.push({ stage: stage.to, enteredAt: at, cause: 'migration' });
  const transition: StageTransition = { type: 'stageChanged', seq: next.stageHistory.length, from: state.stage, to: stage.to, at, cause: 'migration' };
  return { ok: true, state: next, move, transition };
}

/** State is plain JSON: a JSON round trip is an exact copy, and works in the workflow sandbox. */
const structuredCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
