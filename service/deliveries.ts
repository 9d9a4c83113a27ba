// What a provider reports about a message after it was sent (Twilio's delivery status callbacks): the message moves to
// delivered or failed (never backwards, never twice), and every report is in the message's story.
import type { Db } from '../db/client.js';

/** What a provider status means for the message row. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'failed'; error: string }
  /** queued, accepted, sending, sent and anything unknown: recorded, no status change. */
  | { kind: 'none' };

export interface DeliveryReport {
  /** The provider's id of the message (Twilio's MessageSid). */
  providerId: string;
  /** The message id our send put in the callback URL, when there is one: it finds a message whose provider id is not
   * written yet (a callback that overtakes the send's own write). */
  messageId?: string;
  outcome: DeliveryOutcome;
  /** What the provider said, for the message's story (no personal data). */
  detail: Record<string, string>;
}

/** `unknown`: no message of ours; `recorded`: kept for the record only; `delivered`/`failed`: the message moved;
 * `duplicate`: the outcome was already recorded; `ignored`: a different late outcome, kept for the record only. */
export type DeliveryResult = 'unknown' | 'recorded' | 'delivered' | 'failed' | 'duplicate' | 'ignored';

/** Statuses a delivery outcome may move a message out of: anything else is already final (or never went out). */
const IN_FLIGHT = ['sent', 'sending'];

export class MessageDeliveries {
  constructor(private readonly db: Db) {}

  /** Records a provider's report on a message, in one transaction. */
  record(report: DeliveryReport): Promise<DeliveryResult> {
    const { providerId, messageId, outcome, detail } = report;
    return this.db.$transaction(async (tx) => {
      const message = await tx.message.findFirst({
        where: messageId ? { id: messageId, OR: [{ providerId }, { providerId: null }] } : { providerId },
        select: { id: true, status: true },
      });
      if (!message) return 'unknown';
      if (outcome.kind === 'none') {
        await tx.messageEvent.create({ data: { messageId: message.id, type: 'provider_status', detail } });
        return 'recorded';
      }
      const target = outcome.kind; // 'delivered' | 'failed'
      // The status check is part of the update, so concurrent or repeated callbacks move the message once.
      const moved = await tx.message.updateMany({
        where: { id: message.id, status: { in: IN_FLIGHT } },
        data: outcome.kind === 'delivered' ? { status: 'delivered', deliveredAt: new Date() } : { status: 'failed', statusReason: 'undelivered', error: outcome.error },
      });
      if (moved.count === 1) {
        await tx.messageEvent.create({ data: { messageId: message.id, type: target, detail } });
        return target;
      }
      const current = await tx.message.findUnique({ where: { id: message.id }, select: { status: true } });
      // A repeat of the outcome already recorded adds nothing; a different late outcome is kept for the record only.
      if (current?.status === target) return 'duplicate';
      await tx.messageEvent.create({ data: { messageId: message.id, type: 'provider_status', detail } });
      return 'ignored';
    });
  }
}
