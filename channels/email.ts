import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import { scrubbedError } from './scrub.js';

/** A Message-ID derived from the idempotency key: a resent mail carries the same id, so mail systems can drop it. */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  return `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}@${domain}>`;
}

/** 5xx SMTP replies to the envelope, or an envelope nodemailer refuses, mean the address or message is refused for
 * good; anything else (connection refused, timeouts, 4xx) is transient. */
export function isPermanentSmtpError(err: unknown): boolean {
  const e = err as { responseCode?: unknown; code?: unknown } | null | undefined;
  return (typeof e?.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) || e?.code === 'EENVELOPE';
}

export function createEmailChannel(opts: { smtpUrl: string; from: string }): Channel & { close(): void } {
  const transport = nodemailer.createTransport(opts.smtpUrl);
  const domain = /@([^>\s]+)/.exec(opts.from)?.[1] ?? 'journeys.local';
  return {
    name: 'email',
    async send(m: OutboundMessage): Promise<Delivery> {
      try {
        const info = await transport.sendMail({
          from: opts.from,
          to: m.to,
          subject: m.subject ?? '',
          text: m.text,
          ...(m.html !== undefined ? { html: m.html } : {}),
          messageId: messageIdFor(m.idempotencyKey, domain),
          ...(m.headers !== undefined ? { headers: m.headers } : {}),
        });
        return { providerId: info.messageId };
      } catch (err) {
        const e = err as { responseCode?: number; code?: string; message: string };
        // Replies quote the address: scrubbed (channels/scrub.ts).
        if (isPermanentSmtpError(err))
          throw scrubbedError(new PermanentChannelError(e.responseCode !== undefined ? `SMTP ${e.responseCode}: ${e.message}` : e.message, e.responseCode ?? e.code), [m.to]);
        throw scrubbedError(err, [m.to]);
      }
    },
    close: () => transport.close(),
  };
}
