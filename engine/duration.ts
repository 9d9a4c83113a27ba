// ISO-8601 durations (PnYnMnWnDTnHnMnS) as exact calendar arithmetic in UTC. Pure and deterministic: the workflow
// and the simulator compute the same instants.
import { EngineError } from './errors.js';

const PATTERN = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export function parseDuration(text: string): Duration | undefined {
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

export function isDuration(text: string): boolean {
  return parseDuration(text) !== undefined;
}

/** The instant `at` moved by `d`, or NaN when it falls outside what a Date can hold. */
function shift(atMs: number, d: Duration, sign: 1 | -1): number {
  const t = new Date(atMs);
  if (d.years || d.months) t.setUTCMonth(t.getUTCMonth() + sign * (d.years * 12 + d.months));
  const ms = ((d.weeks * 7 + d.days) * 86_400 + d.hours * 3_600 + d.minutes * 60) * 1000 + Math.round(d.seconds * 1000);
  return new Date(t.getTime() + sign * ms).getTime();
}

/** `at` moved by the duration, forwards (sign 1) or backwards (sign -1). Months and years follow the calendar. A
 * result past the calendar's end is an EngineError (`bad_time`), never an Invalid Date. */
export function addDuration(at: Date, text: string, sign: 1 | -1 = 1): Date {
  const d = parseDuration(text);
  if (!d) throw new EngineError('bad_duration', `not an ISO-8601 duration: "${text.slice(0, 64)}"`);
  const ms = shift(at.getTime(), d, sign);
  if (Number.isNaN(ms))
    throw new EngineError('bad_time', `${Number.isNaN(at.getTime()) ? 'an invalid instant' : at.toISOString()} ${sign < 0 ? 'minus' : 'plus'} ${text} is not a representable time`);
  return new Date(ms);
}

// ---- limits ------------------------------------------------------------------------------------------------------

/** Bounds on the durations a definition or a start request may use. */
export interface DurationLimits {
  /** The longest duration anywhere (an ISO-8601 duration). */
  max: string;
  /** The shortest wait: a `delay`, a `wait`'s or a survey's timeout, a task's due time, a send's expiry. */
  minWait: string;
}

export const DEFAULT_DURATION_LIMITS: DurationLimits = Object.freeze({ max: 'P10Y', minWait: 'PT1S' });

/** The bound the definition schema itself enforces, whatever the configuration says: beyond it nothing is meaningful
 * for a journey, and a configured maximum may not exceed it. */
export const HARD_MAX_DURATION = 'P100Y';

/** What a duration is used for, which decides its minimum:
 * - `wait`: a `delay`, a `wait`'s or a survey's timeout (at least `minWait`: a zero wait spins);
 * - `due`: a task's due time (at least `minWait`: a task due at once escalates at once);
 * - `expiry`: a send's `expiresAfter` (at least `minWait`: a message that expires at once never goes out);
 * - `offset`: a `delayUntil`'s `before`/`after` (zero is fine);
 * - `any`: a parameter's value or a cooldown (only the maximum applies). */
export type DurationKind = 'wait' | 'due' | 'expiry' | 'offset' | 'any';

const NEEDS_MIN: ReadonlySet<DurationKind> = new Set(['wait', 'due', 'expiry']);

/** Measured from a fixed instant, so calendar lengths (months, leap years) count the same everywhere. */
const REFERENCE = Date.UTC(2000, 0, 1);

/** The length of a duration in ms from the reference instant: NaN when unparseable or too long to represent. */
export function durationMs(text: string): number {
  const d = parseDuration(text);
  return d ? shift(REFERENCE, d, 1) - REFERENCE : NaN;
}

/** Why `text` is not a usable duration of this kind under the limits, or undefined when it is. */
export function checkDuration(text: string, limits: DurationLimits = DEFAULT_DURATION_LIMITS, kind: DurationKind = 'any'): string | undefined {
  if (!isDuration(text)) return 'must be an ISO-8601 duration such as P3D or PT24H';
  const ms = durationMs(text);
  if (Number.isNaN(ms) || ms > durationMs(limits.max)) return `${text} is longer than the maximum duration ${limits.max}`;
  if (NEEDS_MIN.has(kind) && ms < durationMs(limits.minWait)) return `${text} is shorter than the minimum ${limits.minWait} for a ${KIND_WORDS[kind]}`;
  return undefined;
}

const KIND_WORDS: Record<DurationKind, string> = { wait: 'delay or timeout', due: "task's due time", expiry: "message's expiry", offset: 'offset', any: 'duration' };

/** Whether `text` may be configured as the maximum duration: a duration from the minimum wait to the hard maximum. */
export function isMaxDuration(text: string): boolean {
  return checkDuration(text, { max: HARD_MAX_DURATION, minWait: DEFAULT_DURATION_LIMITS.minWait }, 'wait') === undefined;
}
