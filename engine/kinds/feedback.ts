// `feedback`: a touchpoint survey (CSAT, NPS, CES) sent like a message; the flow waits for the answer or the timeout.
import { addDuration } from '../duration.js';
import { durationOf, FEEDBACK_EVENT } from '../runtime.js';
import type { Step } from './index.js';
import { type Base, type Channel, type DurationRef, type KindEntry } from './kind.js';
import { type Delivery, expiry, sendMessage } from './send.js';

export type FeedbackStep = Base & {
  type: 'feedback';
  survey: 'csat' | 'nps' | 'ces';
  channel: Channel;
  template: string;
  timeout: DurationRef;
  onAnswer?: Step[];
  onTimeout?: Step[];
} & Delivery;

export const feedback: KindEntry<FeedbackStep> = {
  arms: (s) => [
    { path: ['onAnswer'], steps: s.onAnswer, event: FEEDBACK_EVENT },
    { path: ['onTimeout'], steps: s.onTimeout },
  ],
  run(s, cx) {
    sendMessage(s, cx);
    return { wait: { kind: 'event', events: [FEEDBACK_EVENT], until: addDuration(cx.now, durationOf(s.timeout, cx.state.params)).toISOString() } };
  },
  resume(s, cx, event) {
    if (event.type !== FEEDBACK_EVENT || event.data.survey !== s.survey) return undefined;
    // The template names the touchpoint the answer belongs to (analytics group answers by it).
    cx.record('feedback', {
      survey: s.survey,
      template: s.template,
      score: event.data.score ?? null,
      ...(event.data.comment !== undefined ? { comment: event.data.comment } : {}),
    });
    return cx.slot.arms[0]!;
  },
  resumedBy: () => [FEEDBACK_EVENT],
  durations: (s) => [{ ref: s.timeout, kind: 'wait', at: 'timeout' }, ...expiry(s)],
  uses: (s) => ({ touch: { action: 'send', channel: s.channel, template: s.template } }),
  ends: false,
  wait: { movesTo: (from, to) => (from.survey === to.survey ? undefined : `a ${from.survey} survey cannot become a ${to.survey} survey`) },
  alwaysWaits: (s, positive) => positive(s.timeout),
  conditions: null,
  map: { drawn: true },
};
