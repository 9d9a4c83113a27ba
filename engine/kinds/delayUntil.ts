// `delayUntil`: waits until a timestamp of the event or of the profile, shifted by an offset.
import { addDuration } from '../duration.js';
import { durationOf, parseTime, readField } from '../runtime.js';
import { type Base, type DurationRef, type KindEntry, none, noUses, timerMoves } from './kind.js';

export type DelayUntilStep = Base & {
  type: 'delayUntil';
  /** The anchor timestamp: a field of the event that started the flow, or of the customer's profile. */
  eventField?: string;
  profileField?: string;
  before?: DurationRef;
  after?: DurationRef;
  /** When the computed instant has passed: run now, skip the rest of the flow, or run now only while the
   * anchor itself is still ahead (a reminder before a due date that has not come yet). */
  ifPast?: 'run' | 'skip' | 'runIfAnchorAhead';
};

export const delayUntil: KindEntry<DelayUntilStep> = {
  arms: none,
  run(s, cx) {
    const source = s.eventField !== undefined ? cx.data : cx.scope().profile;
    const anchor = parseTime(readField(source, (s.eventField ?? s.profileField)!));
    if (!anchor) return 'finished'; // no usable timestamp: nothing to schedule
    const offset = s.before ?? s.after;
    const target = offset ? addDuration(anchor, durationOf(offset, cx.state.params), s.before ? -1 : 1) : anchor;
    if (target.getTime() > cx.now.getTime()) return { wait: { kind: 'timer', until: target.toISOString() } };
    const ifPast = s.ifPast ?? 'run';
    if (ifPast === 'skip' || (ifPast === 'runIfAnchorAhead' && anchor.getTime() <= cx.now.getTime())) return 'finished';
  },
  resume: null,
  resumedBy: none,
  durations: (s) => (s.before !== undefined ? [{ ref: s.before, kind: 'offset', at: 'before' }] : s.after !== undefined ? [{ ref: s.after, kind: 'offset', at: 'after' }] : []),
  uses: noUses,
  ends: false,
  wait: timerMoves,
  // It runs at once when its instant has passed (in a loop the instant stays in the past), unless it skips.
  alwaysWaits: (s) => s.ifPast === 'skip',
  conditions: null,
  map: { drawn: true },
};
