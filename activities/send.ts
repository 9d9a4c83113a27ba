// The send activity: every message passes the contact policy here, in one place, before it leaves, and every
// decision is recorded as a message event. Outbox discipline: the message row (unique idempotency key from the
// workflow) exists before the provider is called and is marked after; a retry of a send that is marked never sends
// again. A status and the event that explains it are written in one statement or one transaction, so no reader sees
// one without the other. A retry of a send that may have reached the provider (row `sending`, attempts > 0) first
// asks the provider whether it has it, where the channel can (SMS); see README "Delivery guarantees".
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Command } from '../engine/engine.js';
import { addDuration } from '../engine/duration.js';
import { type Channel, type ChannelName, isNotConfigured, PermanentChannelError } from '../channels/channel.js';
import { scrubbedError } from '../channels/scrub.js';
import { type TemplateContent, TemplateError, type TemplateStore } from '../channels/templates.js';
import { Prisma, type Db } from '../db/client.js';
import { utc } from '../db/time.js';
import { marketingConsentKey } from '../engine/channels.js';
import { ADDRESS_COLUMNS, addressOf } from '../channels/registry.js';
import { type PreferenceLinks, preferenceFooter, unsubscribeHeaders } from '../service/preference-links.js';
import { capsFor, type ContactPolicy, effectiveTimeZone, type MessageClass, quietUntil, windowStart } from '../policy/policy.js';
import { policyDecisions, sends } from '../service/metrics.js';

export type SendInput = Omit<Extract<Command, { type: 'send' }>, 'type'> & {
  workflowId: string;
  customerId: string;
  /** The workflow's clock when it asked: the policy decides at this instant or the wall clock, whichever is later, so
   * a send deferred on a durable timer is judged at the time the timer fired (and tests can move the clock). */
  at?: string;
};
export type SendResult =
  { messageId: string; status: 'sent' | 'suppressed' | 'failed' | 'dropped'; reason?: string } | { messageId: string; status: 'deferred'; reason: string; until: string };

/** Errors of this type end an activity without retries; the workflow records them and goes on. */
export const PERMANENT_DELIVERY_ERROR = 'PermanentDeliveryError';

export interface SendDeps {
  db: Db;
  channels: Record<ChannelName, Channel>;
  templates: { snapshot(): Promise<TemplateStore> };
  policy: ContactPolicy;
  /** Signs the unsubscribe and preference links every marketing email carries (unset: none are added). */
  links?: PreferenceLinks;
}

const FINAL = new Set(['sent', 'delivered', 'failed', 'suppressed', 'dropped']);
/** Statuses that hold a slot of a frequency cap. */
const COUNTED = ['sending', 'sent', 'delivered'];

/** What a send reads of its message row. */
interface MessageRow {
  id: string;
  status: string;
  statusReason: string | null;
  priority: number;
  attempts: number;
  recipient: string | null;
  subject: string | null;
  body: string | null;
  expiresAt: Date | null;
  createdAt: Date;
}
const MESSAGE_COLUMNS = Prisma.sql`id, status, status_reason AS "statusReason", priority, attempts, recipient, subject, body, expires_at AS "expiresAt", created_at AS "createdAt"`;

export function createSendActivity(deps: SendDeps) {
  const { db, policy } = deps;

  const json = (detail: Record<string, unknown>) => Prisma.sql`${JSON.stringify(detail)}::jsonb`;
  /** An event written once in a message's story: nothing when the message has one of its type already (a retry of the
   * attempt that wrote it, or of the statement that created the message with it). */
  const eventOnce = (messageId: string, type: string, detail: Record<string, unknown> = {}) =>
    db.$executeRaw`INSERT INTO message_events (message_id, at, type, detail) SELECT ${messageId}, ${utc(new Date())}, ${type}, ${json(detail)}
      WHERE NOT EXISTS (SELECT 1 FROM message_events WHERE message_id = ${messageId} AND type = ${type})`;
  /** A change to the message row and the event that explains it, in one statement: atomic without a transaction, and
   * one round trip instead of four (BEGIN, UPDATE, INSERT, COMMIT). */
  const updateWithEvent = (client: Prisma.TransactionClient | Db, id: string, set: Prisma.Sql, type: string, detail: Record<string, unknown>) => {
    const at = utc(new Date());
    return client.$executeRaw`WITH m AS (UPDATE messages SET ${set}, updated_at = ${at} WHERE id = ${id} RETURNING id)
      INSERT INTO message_events (message_id, at, type, detail) SELECT id, ${at}, ${type}, ${json(detail)} FROM m`;
  };
  /** Marks a message sent by the provider, with its event. A delivery callback may already have marked it delivered:
   * never step back from that. */
  const markSent = (client: Prisma.TransactionClient | Db, id: string, providerId: string, detail: Record<string, unknown> = {}) =>
    updateWithEvent(
      client,
      id,
      Prisma.sql`provider_id = ${providerId}, error = NULL, status_reason = NULL, status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END`,
      'sent',
      { providerId, ...detail },
    );

  /** Takes the first provider id of `candidates` (oldest first) that no other message of ours has, and marks the
   * message sent with it: under the customer's row lock, so two in-doubt messages with the same text cannot both
   * claim one SMS. */
  const claimProviderId = (id: string, customerId: string, candidates: string[]) =>
    db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM customers WHERE id = ${customerId} FOR UPDATE`;
      const taken = await tx.message.findMany({ where: { providerId: { in: candidates }, id: { not: id } }, select: { providerId: true } });
      const found = candidates.find((c) => !taken.some((t) => t.providerId === c));
      if (found) await markSent(tx, id, found, { reconciled: true });
      return found;
    });

  /** The message of this idempotency key, created with the first lines of its story (`created`, and the time zone
   * fallback when it applies) if it is not there yet: one statement, where a lookup and a created row with its events
   * took six (a SELECT, then BEGIN, two INSERTs, a SELECT, COMMIT). `created` says whether this call made it. Its
   * timestamps (the row's and its events') are the wall clock's, like every other line of the story: the policy's
   * clock (`now` in `sendOnce`, possibly the workflow's, ahead of the wall) decides, it does not date rows. */
  async function claimMessage(
    input: SendInput,
    cls: MessageClass,
    expiresAt: Date | null,
    firstEvents: { type: string; detail: Record<string, unknown> }[],
  ): Promise<MessageRow & { created: boolean }> {
    const priority = input.priority ?? 5;
    const events = [{ type: 'created', detail: { class: cls, priority, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) } }, ...firstEvents];
    const at = utc(new Date());
    const rows = await db.$queryRaw<(MessageRow & { created: boolean })[]>`
      WITH ins AS (
        INSERT INTO messages (id, idempotency_key, workflow_id, customer_id, channel, template, class, priority, expires_at, created_at, updated_at)
        VALUES (${randomUUID()}, ${input.idempotencyKey}, ${input.workflowId}, ${input.customerId}, ${input.channel}, ${input.template}, ${cls}, ${priority}, ${utc(expiresAt)}, ${at}, ${at})
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING ${MESSAGE_COLUMNS}
      ), ev AS (
        INSERT INTO message_events (message_id, at, type, detail)
        SELECT ins.id, ${at}, e.value->>'type', e.value->'detail' FROM ins, jsonb_array_elements(${JSON.stringify(events)}::jsonb) WITH ORDINALITY AS e(value, n)
        ORDER BY e.n
      )
      SELECT *, true AS created FROM ins
      UNION ALL
      SELECT ${MESSAGE_COLUMNS}, false AS created FROM messages WHERE idempotency_key = ${input.idempotencyKey} AND NOT EXISTS (SELECT 1 FROM ins)`;
    if (rows[0]) return rows[0];
    // A concurrent attempt inserted it after this statement's snapshot: read it now.
    const [row] = await db.$queryRaw<MessageRow[]>`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = ${input.idempotencyKey}`;
    if (!row) throw new Error(`message ${input.idempotencyKey} neither created nor found`);
    return { ...row, created: false };
  }

  /** One attempt, counted by its outcome: what it settled on, or `failed` (for good) / `error` (retried) when it threw. */
  return async function sendMessage(input: SendInput): Promise<SendResult> {
    try {
      const result = await sendOnce(input);
      sends.inc({ channel: input.channel, outcome: result.status });
      return result;
    } catch (err) {
      sends.inc({ channel: input.channel, outcome: err instanceof ApplicationFailure && err.nonRetryable ? 'failed' : 'error' });
      throw err;
    }
  };

  async function sendOnce(input: SendInput): Promise<SendResult> {
    const log = Context.current().log;
    const wall = Date.now();
    const now = new Date(input.at ? Math.max(Date.parse(input.at), wall) : wall);
    const customer = await db.customer.findUnique({ where: { id: input.customerId } });
    if (!customer) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} not found`, PERMANENT_DELIVERY_ERROR);
    const cls: MessageClass = input.class ?? 'marketing';

    const channel = deps.channels[input.channel];
    const zone = effectiveTimeZone(customer.timeZone, policy);
    const to = addressOf(input.channel, customer);
    // Checks 0–2 (erasure, consent, an address, expiry): on every attempt, since consent may be withdrawn while a send
    // waits. Known before the message exists, so a new message's story gets its time zone fallback in the statement
    // that creates it, where the send goes on past these checks (as it would have been written after them).
    const refusal = (expiresAt: Date | null): { status: 'suppressed' | 'dropped'; reason: string; detail?: Record<string, unknown> } | undefined => {
      // 0. An erased customer is never sent to (their address is gone, the row stays for the id's facts).
      if (customer.erasedAt) return { status: 'suppressed', reason: 'erased' };
      // 1. Consent and an address.
      const consents = (customer.consents ?? {}) as Record<string, unknown>;
      if (consents[input.channel] === false) return { status: 'suppressed', reason: 'no_consent' };
      // Marketing on a channel can be withdrawn alone (the one-click unsubscribe, the preference page): service
      // messages — an approval, a repayment reminder — still reach the customer.
      if (cls === 'marketing' && consents[marketingConsentKey(input.channel)] === false)
        return { status: 'suppressed', reason: 'no_consent', detail: { consent: marketingConsentKey(input.channel) } };
      if (!to) return { status: 'suppressed', reason: 'no_address' };
      // 2. A time-critical message past its expiry is dropped, not sent stale.
      if (expiresAt && now.getTime() >= expiresAt.getTime()) return { status: 'dropped', reason: 'expired', detail: { expiresAt: expiresAt.toISOString() } };
      return undefined;
    };
    const fallbackEvent = { type: 'timezone_fallback', detail: { given: customer.timeZone ?? null, used: zone.timeZone } };
    const newExpiresAt = input.expiresAfter ? addDuration(now, input.expiresAfter) : null;
    const message = await claimMessage(input, cls, newExpiresAt, zone.fellBack && !refusal(newExpiresAt) ? [fallbackEvent] : []);
    const id = message.id;
    if (FINAL.has(message.status)) {
      return { messageId: id, status: message.status === 'delivered' ? 'sent' : (message.status as 'sent'), ...(message.statusReason ? { reason: message.statusReason } : {}) };
    }

    // In doubt: an earlier attempt took its slot and may have reached the provider before it died (a worker killed
    // mid-request, a timeout after the provider accepted). Where the provider can be asked (SMS), it is asked first,
    // before the policy is applied again (a message already out is not then dropped or deferred) and before any
    // resend; an error asking is transient, so nothing is resent until the answer is known. The match uses what the
    // first attempt recorded it sends: the recipient and the rendered text.
    if (message.status === 'sending' && message.attempts > 0 && message.recipient && message.body !== null && channel.findSent) {
      const candidates = await channel.findSent(
        { to: message.recipient, text: message.body, ...(message.subject !== null ? { subject: message.subject } : {}), idempotencyKey: input.idempotencyKey, messageId: id },
        message.createdAt,
      );
      const found = candidates.length
        ? await claimProviderId(
            id,
            input.customerId,
            candidates.map((c) => c.providerId),
          )
        : undefined;
      if (found) {
        log.info('in-doubt send found at the provider, not resent', { messageId: id });
        return { messageId: id, status: 'sent' };
      }
    }

    const settle = async (status: 'suppressed' | 'dropped' | 'failed', reason: string, detail: Record<string, unknown> = {}, error?: string): Promise<SendResult> => {
      await updateWithEvent(db, id, Prisma.sql`status = ${status}, status_reason = ${reason}, error = ${error ?? null}, deferred_until = NULL`, status, { reason, ...detail });
      // A failure is the provider's or the template's, not the policy's.
      if (status !== 'failed') policyDecisions.inc({ decision: status, reason });
      log.info('message not sent', { messageId: id, status, reason });
      return { messageId: id, status, reason };
    };
    const defer = async (until: Date, reason: string, detail: Record<string, unknown> = {}): Promise<SendResult> => {
      if (message.expiresAt && until.getTime() >= message.expiresAt.getTime())
        return settle('dropped', `${reason}_expired`, { wouldWaitUntil: until.toISOString(), expiresAt: message.expiresAt.toISOString() });
      await updateWithEvent(
        db,
        id,
        Prisma.sql`status = ${message.status === 'sending' ? 'sending' : 'deferred'}, status_reason = ${reason}, deferred_until = ${utc(until)}`,
        'deferred',
        { reason, until: until.toISOString(), ...detail },
      );
      policyDecisions.inc({ decision: 'deferred', reason });
      return { messageId: id, status: 'deferred', reason, until: until.toISOString() };
    };

    // 0. A channel this deployment has not configured (WeChat without WECHAT_APP_ID, for a definition published before
    // or on another deployment): it fails for good, with its reason, rather than being retried forever.
    if (isNotConfigured(channel)) {
      await settle('failed', 'channel_not_configured', { channel: input.channel }, channel.notConfigured);
      throw ApplicationFailure.nonRetryable(channel.notConfigured, PERMANENT_DELIVERY_ERROR);
    }
    const refused = refusal(message.expiresAt);
    if (refused) return settle(refused.status, refused.reason, refused.detail);
    if (!to) return settle('suppressed', 'no_address'); // (refused above; says so to the type checker)
    // 3. Quiet hours in the customer's own zone (a missing or unknown zone falls back to the policy's, and says so: a
    // new message said so when it was created; one left pending by an attempt that stopped says so now, once: the
    // attempt that created the message may have said so before it stopped).
    if (zone.fellBack && !message.created && message.attempts === 0 && message.status === 'pending') await eventOnce(id, fallbackEvent.type, fallbackEvent.detail);
    const quiet = quietUntil(input.channel, now, zone.timeZone, policy);
    if (quiet) return defer(quiet, 'quiet_hours', { timeZone: zone.timeZone });

    // 4. Render before taking a cap slot: a template that cannot render fails for good.
    let content: TemplateContent;
    try {
      content = (await deps.templates.snapshot()).render(input.template, input.channel, customer.locale, {
        // The zone the date filters show times in: the customer's, or the policy's default (as quiet hours use).
        customer: { id: customer.id, name: customer.name ?? '', locale: customer.locale, timeZone: zone.timeZone, segment: customer.segment, attributes: customer.attributes },
        event: input.vars.event,
        params: input.vars.params,
      });
    } catch (err) {
      if (err instanceof TemplateError) {
        await settle('failed', 'template', {}, err.message);
        throw ApplicationFailure.nonRetryable(err.message, PERMANENT_DELIVERY_ERROR);
      }
      throw err;
    }

    // 5. Frequency caps across all the customer's journeys, atomically: the customer's row is locked while the slot
    // is counted and taken, so two journeys sending at the same instant cannot both take the last one. A message
    // already holding a slot (a retry after a provider error) keeps it.
    if (message.status !== 'sending') {
      const caps = capsFor(policy, cls, input.channel);
      const take = Prisma.sql`UPDATE messages SET status = 'sending', sent_at = ${utc(now)}, recipient = ${to}, subject = ${content.subject ?? null}, body = ${content.text},
        deferred_until = NULL, status_reason = NULL, attempts = attempts + 1, updated_at = ${utc(new Date())} WHERE id = ${id}`;
      const decision = !caps.length
        ? // No cap applies: the lock only orders the slot against an erasure (which locks the row first), so lock and
          // write are one statement. The lock is an InitPlan, taken before the message row is touched.
          (await db.$executeRaw`WITH c AS (SELECT erased_at FROM customers WHERE id = ${input.customerId} FOR UPDATE)
            ${take} AND EXISTS (SELECT 1 FROM c WHERE erased_at IS NULL)`) === 1
          ? { capped: false as const, erased: false as const }
          : { capped: false as const, erased: true as const }
        : // The counts must be read after the lock is held (a statement of its own: its snapshot is taken then), so a
          // slot taken by whoever held the lock before is counted. All the caps' windows are read in one query.
          await db.$transaction(async (tx) => {
            const [locked] = await tx.$queryRaw<{ erased_at: Date | null }[]>`SELECT erased_at FROM customers WHERE id = ${input.customerId} FOR UPDATE`;
            // Erased since it was read above: the address must not be written back.
            if (!locked || locked.erased_at) return { capped: false as const, erased: true as const };
            const earliest = new Date(Math.min(...caps.map((c) => windowStart(now, c.window).getTime())));
            const [counts] = await tx.$queryRaw<{ sent: string[] | null; ahead: number }[]>`SELECT
              (SELECT array_agg(to_char(sent_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ORDER BY sent_at) FROM messages
                WHERE customer_id = ${input.customerId} AND channel = ${input.channel} AND class = ${cls} AND status IN (${Prisma.join(COUNTED)})
                  AND sent_at >= ${utc(earliest)}) AS sent,
              -- Higher-priority messages waiting for this same moment get the remaining slots first.
              (SELECT count(*)::int FROM messages
                WHERE customer_id = ${input.customerId} AND channel = ${input.channel} AND class = ${cls} AND status = 'deferred'
                  AND deferred_until <= ${utc(now)} AND priority > ${message.priority} AND id <> ${id}) AS ahead`;
            const sent = (counts?.sent ?? []).map((t) => new Date(t));
            const ahead = counts?.ahead ?? 0;
            for (const c of caps) {
              const since = windowStart(now, c.window).getTime();
              const counted = sent.filter((t) => t.getTime() >= since);
              if (counted.length + ahead >= c.limit) {
                const freeAt = counted.length >= c.limit && c.limit > 0 ? addDuration(counted[counted.length - c.limit]!, c.window) : addDuration(now, 'PT1M');
                return { capped: true as const, cap: c, used: counted.length, ahead, freeAt };
              }
            }
            await tx.$executeRaw`${take}`;
            return { capped: false as const, erased: false as const };
          });
      if (decision.erased) return settle('suppressed', 'erased');
      if (decision.capped) {
        const detail = { limit: decision.cap.limit, window: decision.cap.window, used: decision.used, higherPriorityWaiting: decision.ahead };
        return policy.onCap[cls] === 'drop' ? settle('dropped', 'frequency_cap', detail) : defer(decision.freeAt, 'frequency_cap', detail);
      }
      policyDecisions.inc({ decision: 'allowed', reason: 'none' });
    }

    // 6. The provider call, marked after. (A first attempt counted itself when it took its slot.)
    if (message.status === 'sending') await db.message.update({ where: { id }, data: { attempts: { increment: 1 } } });
    // A marketing email carries the customer's way out: the one-click unsubscribe headers (RFC 8058) and a line
    // linking the preference page. Added to what goes out only: the stored body holds no link, so whoever reads the
    // message log (an RM, ops) cannot use the customer's link.
    let outgoing: TemplateContent & { headers?: Record<string, string> } = content;
    if (input.channel === 'email' && cls === 'marketing' && deps.links) {
      const urls = await deps.links.urls({ linkId: id, customerId: input.customerId, workflowId: input.workflowId, channel: input.channel }, new Date(wall));
      if (urls) {
        const footer = preferenceFooter(customer.locale, urls.page);
        outgoing = { ...content, text: content.text + footer.text, ...(content.html !== undefined ? { html: content.html + footer.html } : {}), headers: unsubscribeHeaders(urls) };
      }
    }
    try {
      const delivery = await channel.send({ to, ...outgoing, idempotencyKey: input.idempotencyKey, messageId: id });
      await markSent(db, id, delivery.providerId);
      return { messageId: id, status: 'sent' };
    } catch (caught) {
      // Adapters scrub their errors; this is the last gate before the text reaches the message row, its events, the
      // activity failure (Temporal's history) and the logs, so it scrubs again with what it knows of the customer.
      const err = scrubbedError(caught, [to, customer.name, ...ADDRESS_COLUMNS.map((a) => customer[a.column])]);
      const text = err.message;
      if (err instanceof PermanentChannelError) {
        await settle('failed', 'rejected_by_provider', { code: err.code ?? null }, text);
        throw ApplicationFailure.nonRetryable(text, PERMANENT_DELIVERY_ERROR);
      }
      await updateWithEvent(db, id, Prisma.sql`error = ${text}`, 'error', { error: text.slice(0, 500), attempt: Context.current().info.attempt });
      throw err; // transient: the activity's retry policy tries again, holding the slot
    }
  }
}
