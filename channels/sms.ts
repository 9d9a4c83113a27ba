import twilio from 'twilio';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import { twilioHttpClient } from './twilio-http.js';

/** Where the API takes Twilio's delivery callbacks (api/twilio-status.ts). */
export const TWILIO_STATUS_PATH = '/v1/channels/twilio/status';

/** The status callback URL to give Twilio for an API reachable at publicBaseUrl. */
export function twilioStatusCallbackUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${TWILIO_STATUS_PATH}`;
}

export interface SmsOptions {
  accountSid: string;
  authToken: string;
  from: string;
  /** A Twilio-compatible server to talk to instead of Twilio itself. */
  apiBaseUrl?: string;
  /** Where Twilio POSTs delivery status callbacks for each message (signed for this exact URL); unset → none. */
  statusCallbackUrl?: string;
}

export function createSmsChannel(opts: SmsOptions): Channel {
  // The client's own retries stay off (its default): retries belong to the activity's retry policy, with backoff
  // and durable across worker restarts.
  const client = twilio(opts.accountSid, opts.authToken, opts.apiBaseUrl ? { httpClient: twilioHttpClient(opts.apiBaseUrl) } : {});
  return {
    name: 'sms',
    async send(m: OutboundMessage): Promise<Delivery> {
      try {
        const msg = await client.messages.create({
          to: m.to,
          from: opts.from,
          body: m.text,
          ...(opts.statusCallbackUrl ? { statusCallback: m.messageId ? `${opts.statusCallbackUrl}?m=${encodeURIComponent(m.messageId)}` : opts.statusCallbackUrl } : {}),
        });
        return { providerId: msg.sid };
      } catch (err) {
        const e = err as { status?: number; code?: number; message: string };
        // 4xx other than 429 (too many requests) means Twilio refused this message for good.
        if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.status !== 429)
          throw new PermanentChannelError(`Twilio ${e.status}/${e.code ?? '-'}: ${e.message}`, e.code ?? e.status);
        throw err;
      }
    },
  };
}
