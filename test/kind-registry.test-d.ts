// Type-level proof that the registry of node kinds is complete: checked by `npm run typecheck` (tsc covers test/), not
// run by vitest. Each `@ts-expect-error` fails the typecheck when the line under it compiles, so a registry that lets
// a kind or a piece go missing, or a schema drift from its kind's type, is caught here.
import type { z } from 'zod';
import { KINDS, type Registry } from '../engine/kinds/index.js';
import type { KindEntry } from '../engine/kinds/kind.js';
import type { Same } from '../engine/kinds/schemas.js';
import type { GoalStep } from '../engine/kinds/goal.js';
import { goal } from '../engine/kinds/goal.js';

// The registry as it is compiles.
export const complete: Registry = KINDS;

// A registry without a kind does not.
const { goal: _dropped, ...withoutGoal } = KINDS;
// @ts-expect-error -- the `goal` kind is missing
export const missingKind: Registry = withoutGoal;

// An entry without one of its pieces does not.
const { resume: _resume, ...goalWithoutResume } = goal;
// @ts-expect-error -- the entry has no `resume`
export const missingPiece: KindEntry<GoalStep> = goalWithoutResume;
// @ts-expect-error -- a registry whose `goal` entry has no `map` answer
export const registryMissingPiece: Registry = { ...KINDS, goal: { ...goal, map: undefined } };

// An entry for another kind under a kind's name does not: its functions take the wrong step.
// @ts-expect-error -- the `send` entry in the `goal` slot
export const wrongEntry: Registry = { ...KINDS, goal: KINDS.send };

// A schema that drifts from its kind's declared type does not match it.
type GoalWithExtraField = z.ZodType<GoalStep & { weight?: number }>;
type GoalWithoutKey = z.ZodType<Omit<GoalStep, 'key'>>;
export const agrees: Same<GoalStep, GoalStep> = true;
// @ts-expect-error -- an optional field the schema has and the type lacks
export const extraField: Same<z.output<GoalWithExtraField>, GoalStep> = true;
// @ts-expect-error -- a field the type has and the schema lacks
export const missingField: Same<z.output<GoalWithoutKey>, GoalStep> = true;
