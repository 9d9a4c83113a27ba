import { createHmac } from 'node:crypto';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import { scrub } from './scrub.js';

export const SIGNATURE_HEADER = 'x-journeys-signature';
export const TIMESTAMP_HEADER = 'x-journeys-timestamp';

/** The signature a receiver recomputes: HMAC-SHA256 over "{timestamp}.{body}" with the shared secret. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The receiver's answer (or a thrown error, which has no status: transient): a redirect or a 4xx other than 408 and 429
 * refuses the message for good; 5xx, 408, 429 and timeouts are transient. */
export function isPermanentWebhookAnswer(answer: unknown): boolean {
  const status = (answer as { status?: unknown } | null | undefined)?.status;
  return typeof status === 'number' && status >= 300 && status < 500 && status !== 408 && status !== 429;
}

/**
 * Push and app messages as a signed JSON POST to the customer-facing system (an app's push service, a CRM).
 * 2xx is success, 4xx a permanent refusal, 5xx and timeouts are transient. The idempotency key travels in the body
 * and in `Idempotency-Key`, so the receiver can drop a repeat.
 * Redirects are not followed: a 3xx would carry the signed body (or a replay of it) to wherever it points, so it is a
 * permanent failure naming the redirect; WEBHOOK_URL must be the receiver's final address.
 */
export function createWebhookChannel(opts: { url: string; secret: string; timeoutMs?: number }): Channel {
  return {
    name: 'webhook',
    async send(m: OutboundMessage): Promise<Delivery> {
      const body = JSON.stringify({ id: m.idempotencyKey, customerId: m.to, title: m.subject ?? null, text: m.text });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': m.idempotencyKey,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(opts.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      const text = await res.text();
      if (res.status >= 300 && res.status < 400)
        throw new PermanentChannelError(
          `webhook answered ${res.status} (a redirect${redirectTarget(res, opts.url)}); redirects are not followed: set WEBHOOK_URL to the receiver's final address`,
          res.status,
        );
      // A receiver's answer may echo what it was sent (the text, a name, a number): scrubbed (channels/scrub.ts).
      if (isPermanentWebhookAnswer(res)) throw new PermanentChannelError(`webhook answered ${res.status}: ${scrub(text.slice(0, 200), [m.to])}`, res.status);
      if (!res.ok) throw new Error(`webhook answered ${res.status}: ${scrub(text.slice(0, 200), [m.to])}`);
      return { providerId: res.headers.get('x-request-id') ?? m.idempotencyKey };
    },
  };
}

/** Where a redirect points, as an origin only (no path or query: those may carry tokens). */
function redirectTarget(res: Response, base: string): string {
  const location = res.headers.get('location');
  if (!location) return '';
  try {
    return ` to ${new URL(location, base).origin}`;
  } catch {
    return '';
  }
}
