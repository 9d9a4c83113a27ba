// The registry of node kinds: the one list of what a journey step can be. `Step` is the union of the kinds' declared
// types; the registry must hold an entry for every member, each typed by its own step (a kind missing, or a kind
// missing a piece, is a compile error: test/kind-registry.test-d.ts proves it). Their zod schemas are in ./schemas.ts,
// checked against these types. Bundle-safe: no zod.
import { type BranchStep, branch } from './branch.js';
import { type CancelStep, cancel } from './cancel.js';
import { type CompleteStep, complete } from './complete.js';
import { type DelayStep, delay } from './delay.js';
import { type DelayUntilStep, delayUntil } from './delayUntil.js';
import { type DelayUntilLocalTimeStep, delayUntilLocalTime } from './delayUntilLocalTime.js';
import { type ExitStep, exit } from './exit.js';
import { type FeedbackStep, feedback } from './feedback.js';
import { type GoalStep, goal } from './goal.js';
import { type GotoStep, goto } from './goto.js';
import type { KindEntry } from './kind.js';
import { type SendStep, send } from './send.js';
import { type SignalJourneyStep, signalJourney } from './signalJourney.js';
import { type SplitStep, split } from './split.js';
import { type StageStep, stage } from './stage.js';
import { type StartJourneyStep, startJourney } from './startJourney.js';
import { type StopJourneysStep, stopJourneys } from './stopJourneys.js';
import { type TaskStep, task } from './task.js';
import { type WaitStep, wait } from './wait.js';

export type Step =
  | StageStep
  | SendStep
  | TaskStep
  | WaitStep
  | DelayStep
  | DelayUntilStep
  | DelayUntilLocalTimeStep
  | BranchStep
  | SplitStep
  | FeedbackStep
  | GoalStep
  | StartJourneyStep
  | SignalJourneyStep
  | StopJourneysStep
  | GotoStep
  | CancelStep
  | ExitStep
  | CompleteStep;

export type Kind = Step['type'];
export type StepOf<K extends Kind> = Extract<Step, { type: K }>;
/** What the registry must be: for each kind, an entry whose functions take that kind's step. */
export type Registry = { [K in Kind]: KindEntry<StepOf<K>> };

/** In the order the schema lists them (the order of its error messages). */
export const KINDS = {
  stage,
  send,
  task,
  wait,
  delay,
  delayUntil,
  delayUntilLocalTime,
  branch,
  split,
  feedback,
  goal,
  startJourney,
  signalJourney,
  stopJourneys,
  goto,
  cancel,
  exit,
  complete,
} satisfies Registry;

/** The entry of a step's kind, typed for that step. (The one cast: `satisfies Registry` above is what makes it true;
 * TypeScript cannot follow the correlation between `s.type` and the entry it indexes.) */
export const kindOf = <S extends Step>(s: S): KindEntry<S> => KINDS[s.type] as unknown as KindEntry<S>;

export const KIND_NAMES = Object.keys(KINDS) as Kind[];
/** Kinds a flow can wait at (analytics' waiting counts, the read model's `waiting`). */
export const WAITING_KINDS: ReadonlySet<Kind> = new Set(KIND_NAMES.filter((k) => KINDS[k].wait !== null));
/** Kinds after which nothing in the same list runs. */
export const ENDING_KINDS: ReadonlySet<Kind> = new Set(KIND_NAMES.filter((k) => KINDS[k].ends));

export type { Arm, Channel, DurationRef, DurationUse, KindEntry, Slot, StepUses } from './kind.js';
export type { Delivery } from './send.js';
