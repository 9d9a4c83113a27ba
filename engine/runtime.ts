// Small pure helpers the interpreter and the node kinds share: reading event fields, matching filters, resolving
// durations. Bundle-safe: no zod, no Node, no Temporal.
import type { DurationRef } from './kinds/kind.js';
import type { ParamValues } from './definition.js';
import { EngineError } from './errors.js';
import { isTimeZone } from './tz.js';

/** The pseudo-event a completed RM task produces, so flows can wait for outcomes like any other event. */
export const TASK_COMPLETED_EVENT = 'task.completed';
/** The event a touchpoint survey's answer arrives as: data {survey, score, comment?}. */
export const FEEDBACK_EVENT = 'feedback.answered';
/** At most this many skipped sends and tasks are listed per flow, and this many values per branch decision. */
export const MAX_RECORDED_ITEMS = 20;

/** A field of event or profile data by dot path; own properties only (`constructor` is not a field of `{}`). */
export function readField(data: unknown, path: string): unknown {
  let v: unknown = data;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export function matches(where: Record<string, unknown> | undefined, data: Record<string, unknown>): boolean {
  if (!where) return true;
  // `null` in a filter means "absent or null".
  return Object.entries(where).every(([path, want]) => {
    const have = readField(data, path);
    return want === null ? have === undefined || have === null : have === want;
  });
}

/** FNV-1a: a stable 32-bit hash, the same in every runtime, for deterministic splits. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function durationOf(ref: DurationRef, params: ParamValues): string {
  if (typeof ref === 'string') return ref;
  if (!Object.hasOwn(params, ref.param)) throw new EngineError('bad_duration', `parameter "${ref.param}" has no value`);
  return String(params[ref.param]);
}

export function parseTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** A customer time zone the runtime does not know falls back to UTC rather than stopping the journey. */
export const validZone = (tz: string): string => (isTimeZone(tz) ? tz : 'UTC');
