// Who is held out of a journey. The API decides once, when it starts the journey; the journey row keeps the cohort and
// the workflow runs a control journey (engine: no sends, no tasks). Assignment is a pure function of the customer id
// (and the journey key), so the same customer gets the same answer on every start, re-entry and replica, with no
// table of assignments to keep.
import { createHash } from 'node:crypto';
import type { JourneyDefinition } from '../engine/definition.js';
import type { Holdout } from '../engine/engine.js';
import { MARKETING_TAG, SERVICE_TAG } from '../engine/validate.js';

/** The global control group: `percent` of all customers, held out of every marketing journey. Changing `salt` draws a
 * new group (e.g. once a year, so the same customers are not kept from marketing for ever). */
export interface ControlGroup {
  percent: number;
  salt: string;
}

export const DEFAULT_HOLDOUT_SALT = 'holdout-v1';

/**
 * Where a customer falls in [0, 100): the first 52 bits of SHA-256 over the JSON array of the parts (JSON, so no
 * customer id can pass for another's parts), as a fraction of 2^52, times 100. Uniform and independent across the
 * `global` and per-journey draws because the parts differ.
 */
export function holdoutPoint(parts: readonly string[]): number {
  const hex = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 13);
  return (parseInt(hex, 16) / 2 ** 52) * 100;
}

/** Whether the global control group applies to a journey: tagged `marketing`, and not `service`. */
export const globalGroupApplies = (def: Pick<JourneyDefinition, 'tags'>) => def.tags.includes(MARKETING_TAG) && !def.tags.includes(SERVICE_TAG);

/**
 * The cohort a customer starts a journey in, and the holdout that decided it; undefined when no holdout applies (the
 * journey runs treated and the log says nothing). In order:
 * 1. the global group (marketing journeys, CONTROL_GROUP_PERCENT > 0): point of [salt, "global", customerId] below the
 *    percent → control, for every marketing journey alike;
 * 2. the journey's own `holdout.percent`: point of [salt, "journey", journeyKey, customerId] below it → control;
 * 3. otherwise treated, naming the journey's holdout if it has one, else the global group.
 * A `service` journey is never held out (its definition may not declare a holdout either: static validation).
 */
export function assignHoldout(def: Pick<JourneyDefinition, 'key' | 'tags' | 'holdout'>, customerId: string, group?: ControlGroup): Holdout | undefined {
  if (def.tags.includes(SERVICE_TAG)) return undefined;
  const salt = group?.salt ?? DEFAULT_HOLDOUT_SALT;
  const global = group !== undefined && group.percent > 0 && globalGroupApplies(def) ? group.percent : undefined;
  if (global !== undefined && holdoutPoint([salt, 'global', customerId]) < global) return { cohort: 'control', source: 'global', percent: global };
  const own = def.holdout?.percent;
  if (own !== undefined) return { cohort: holdoutPoint([salt, 'journey', def.key, customerId]) < own ? 'control' : 'treated', source: 'journey', percent: own };
  return global !== undefined ? { cohort: 'treated', source: 'global', percent: global } : undefined;
}
