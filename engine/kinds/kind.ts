// What a node kind of the journey language is: one entry per kind, in one module per kind, collected in the registry
// (./index.ts). This is the bundle-safe side of a kind — its type, how it runs and resumes, what it holds and uses —
// and imports no zod: the workflow bundle carries it. Its schema lives with the other schemas in ./schemas.ts (the API
// side), checked against the type declared here, so the two cannot drift.
import type { Command, Flow, JourneyEvent, JourneyState, RecordKind, Waiting } from '../engine.js';
import type { DurationKind } from '../duration.js';
import type { Expr } from '../expr.js';
import type { ChannelName } from '../channels.js';
import type { Step } from './index.js';

/** A duration written in place, or taken from a journey parameter (which a start request may override). */
export type DurationRef = string | { param: string };
/** The channels of the one list (engine/channels.ts). */
export type Channel = ChannelName;
/** Every step may carry an `id`, the target of a `goto` and its name in analytics. */
export type Base = { id?: string };
export type Where = Record<string, string | number | boolean | null>;

/** One step of the compiled program (engine.ts `compile`). */
export interface Slot {
  step: Step;
  /** Where the step sits in the definition, e.g. triggers[2].steps[0] (for error reports). */
  path: string;
  next: number;
  /** Entry of each child step list, in `arms` order (for a wait: each `for` option, then the timeout). */
  arms: number[];
  /** Parsed conditions of a branch step. */
  conditions?: Expr[];
}

/** A child step list of a step: where it sits in the step, its steps, and the event its steps run with when that is
 * not the flow's current event (a wait's option runs with the event it waited for). */
export interface Arm {
  path: (string | number)[];
  steps: Step[] | undefined;
  event?: string;
}

/** A duration a step uses, what it is used for, and where it sits in the step. */
export interface DurationUse {
  ref: DurationRef;
  kind: DurationKind;
  at: string;
}

/** What a step refers to outside itself, for the static checks at publish (validate.ts) and the journey log. */
export interface StepUses {
  /** A message it sends (the template must exist for the channel, its variables must be there) or an RM task it
   * opens: what a cut-short flow lists as skipped. */
  touch?: { action: 'send'; channel: Channel; template: string } | { action: 'task'; taskKey: string };
  /** A journey it starts, signals or stops. */
  journey?: string;
  /** An event type it sends to journeys (so listening for it is not an error). */
  sends?: string;
  /** Events it waits for, each with where it is written in the step. */
  listens?: { event: string; at: (string | number)[] }[];
  /** The stage it enters, or `fromEvent` when the event names it. */
  enters?: string | { fromEvent: true };
  /** It reaches a goal (a holdout needs one). */
  goal?: true;
  /** The step id it jumps to. */
  target?: string;
}

/** What the interpreter lends a step while it runs (engine.ts `Run`). */
export interface StepContext {
  readonly state: JourneyState;
  readonly flow: Flow;
  readonly slot: Slot;
  /** Data of the event that started or last resumed the flow. */
  readonly data: Record<string, unknown>;
  readonly now: Date;
  /** The journey runs as a holdout's control: no sends, no tasks. */
  readonly control: boolean;
  /** Branch decisions and skipped sends go to the journey log. */
  readonly decisions: boolean;
  readonly stageIndex: ReadonlyMap<string, number>;
  readonly ids: ReadonlyMap<string, number>;
  /** The next idempotency key of a command. */
  key(): string;
  push(command: Command): void;
  record(kind: RecordKind, data: Record<string, unknown>): void;
  /** The expression scope of the flow: event, profile, params, journey. */
  scope(): Record<string, unknown>;
  enterStage(stage: string, cause: string): void;
  reachGoal(key: string): void;
  end(status: 'completed' | 'exited', reason: string): void;
  /** Records the sends and tasks these flows, about to be cut short, still had ahead of them. */
  skipped(flows: Flow[], cause: Record<string, unknown>): void;
}

/** What a step did: go on to the next step (nothing), go on at another step, wait, end its flow, or end the journey
 * (`stopped`: the step called `end`). */
export type StepOutcome = void | { next: number } | { wait: Waiting } | 'finished' | 'stopped';

/** What the interpreter lends a step that a flow waits at when an event arrives. */
export interface ResumeContext {
  readonly flow: Flow;
  readonly slot: Slot;
  record(kind: RecordKind, data: Record<string, unknown>): void;
}

/** One node kind. Every piece is required: a kind without an answer to one of these does not compile. */
export interface KindEntry<S extends Step> {
  /** Its child step lists, in the order the program lays them out (engine `slot.arms`). */
  arms(s: S): Arm[];
  /** Runs the step. */
  run(s: S, cx: StepContext): StepOutcome;
  /** Where a flow waiting at this step goes on when `event` arrives (an arm's entry, or `slot.next`), or undefined when
   * the event is not for it. `null` for a kind whose flows never wait for an event. (A timer always continues at
   * `slot.next`, a timed-out wait at its last arm: that is the engine's rule, not the kind's.) */
  resume: ((s: S, cx: ResumeContext, event: JourneyEvent) => number | undefined) | null;
  /** Events a flow goes on with after this step, besides its arms' (a survey's answer, a task's outcome). */
  resumedBy(s: S): string[];
  durations(s: S): DurationUse[];
  uses(s: S): StepUses;
  /** Nothing after it in the same list runs (exit, complete, goto). */
  ends: boolean;
  /** Null for a kind no flow waits at. For one a flow can wait at (analytics' waiting counts, the journey map): when a
   * running journey moves to a new version of its definition (engine/migrate.ts), why a flow waiting at `from` could
   * not wait at `to`, a step of the same kind in the new version, instead — undefined when it can. */
  wait: { movesTo(from: S, to: S): string | undefined } | null;
  /** It always lets time pass before the flow goes on, so a loop through it cannot spin; `positive` says whether a
   * duration (after its parameter's default) is longer than zero. */
  alwaysWaits(s: S, positive: (ref: DurationRef) => boolean): boolean;
  /** Conditions compiled once with the program (a branch's). */
  conditions: ((s: S) => Expr[]) | null;
  /** What the console's journey map does with it (console/map.js: `SHOWN`, `children`; test/kind-registry.test.ts
   * holds the two together). */
  map: { drawn: boolean };
}

export const none = (): [] => [];
/** Whether two lists hold the same names (each once). */
export const sameSet = (a: readonly string[], b: readonly string[]) => new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));
/** Names as a reader sees them in a refusal: sorted, each once. */
export const nameList = (xs: readonly string[]) => `[${[...new Set(xs)].sort().join(', ')}]`;
/** A timer moves to any timer of the same kind: it keeps its due time. */
export const timerMoves = { movesTo: (): undefined => undefined };
export const noUses = (): StepUses => ({});
export const never = (): boolean => false;
