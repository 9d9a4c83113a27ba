// `send`: a message through the contact policy (the workflow's `send` command); a control journey only logs it.
import { durationOf } from '../runtime.js';
import { type Base, type Channel, type DurationRef, type DurationUse, type KindEntry, never, none, type StepContext } from './kind.js';

/** How the contact policy treats a message: `service` messages (a repayment reminder) are not counted by the
 * marketing caps; `priority` 0–9 decides who gets a cap's last slot; a message not sent within `expiresAfter` (quiet
 * hours, a cap) is dropped rather than sent stale. */
export type Delivery = { class?: 'marketing' | 'service'; priority?: number; expiresAfter?: DurationRef };

export type SendStep = Base & { type: 'send'; channel: Channel; template: string } & Delivery;

/** Issues the send command of a `send` or a `feedback` step. */
export function sendMessage(s: { channel: Channel; template: string } & Delivery, cx: StepContext): void {
  if (cx.control) {
    // A control journey touches no one; the log keeps what it would have sent, so the timeline can say so.
    cx.record('held_out', { action: 'send', channel: s.channel, template: s.template, flow: cx.flow.name, step: cx.slot.step.id ?? cx.slot.path });
    return;
  }
  cx.push({
    type: 'send',
    idempotencyKey: cx.key(),
    channel: s.channel,
    template: s.template,
    flow: cx.flow.name,
    vars: { event: cx.flow.event?.data ?? {}, params: cx.state.params },
    ...(s.class !== undefined ? { class: s.class } : {}),
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(s.expiresAfter !== undefined ? { expiresAfter: durationOf(s.expiresAfter, cx.state.params) } : {}),
  });
}

/** The expiry a message may carry. */
export const expiry = (x: Delivery): DurationUse[] => (x.expiresAfter !== undefined ? [{ ref: x.expiresAfter, kind: 'expiry', at: 'expiresAfter' }] : []);

export const send: KindEntry<SendStep> = {
  arms: none,
  run: sendMessage,
  resume: null,
  resumedBy: none,
  durations: expiry,
  uses: (s) => ({ touch: { action: 'send', channel: s.channel, template: s.template } }),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: true },
};
