import twilio from 'twilio';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import { twilioHttpClient } from './twilio-http.js';

export interface SmsOptions {
  accountSid: string;
  authToken: string;
  from: string;
  /** A Twilio-compatible server to talk to instead of Twilio itself. */
  apiBaseUrl?: string;
}

export function createSmsChannel(opts: SmsOptions): Channel {
  // The client's own retries stay off (its default): retries belong to the activity's retry policy, with backoff
  // and durable across worker restarts.
  const client = twilio(opts.accountSid, opts.authToken, opts.apiBaseUrl ? { httpClient: twilioHttpClient(opts.apiBaseUrl) } : {});
  return {
    name: 'sms',
    async send(m: OutboundMessage): Promise<Delivery> {
      try {
        const msg = await client.messages.create({ to: m.to, from: opts.from, body: m.text });
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
