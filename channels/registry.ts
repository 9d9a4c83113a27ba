// The channel adapters, one entry per channel of engine/channels.ts: how the channel addresses a customer, what a
// message on it is, how its provider's errors divide into transient and permanent, and how the adapter is built from
// the config. The worker and the test stack build every channel from here; the customer API's address fields, erasure
// and the send activity's choice of address read it. A channel missing here, or an entry for a channel the list does
// not have, is a compile error.
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { CustomerModel } from '../db/generated/models.js';
import { CHANNEL_NAMES, type ChannelName, perChannel } from '../engine/channels.js';
import { type Channel, notConfiguredChannel } from './channel.js';
import { createEmailChannel, isPermanentSmtpError } from './email.js';
import { createSmsChannel, isPermanentTwilioError, twilioStatusCallbackUrl } from './sms.js';
import type { TemplateContent } from './templates.js';
import { createWebhookChannel, isPermanentWebhookAnswer } from './webhook.js';
import { createWeChatChannel, isPermanentWeChatError, templateMessage } from './wechat.js';

/** The customer's columns that can hold an address: nullable text. (Contact data lives in columns, never in
 * `attributes`, which journeys — and so Temporal's history — see.) */
type TextColumn = { [K in keyof CustomerModel]-?: CustomerModel[K] extends string | null ? (null extends CustomerModel[K] ? K : never) : never }[keyof CustomerModel];

/** What building an adapter may need besides the config. */
export interface ChannelContext {
  /** The API's address as providers reach it (delivery callbacks); unset: none are asked for. */
  apiBase?: string;
}

export interface ChannelAdapter {
  /**
   * Where the customer's address on this channel is: a column of the customer — set through the customer API under the
   * same name, validated by `schema`, personal data that erasure clears — or the customer id itself (the receiver
   * knows the customer by it).
   */
  readonly address: { readonly column: TextColumn; readonly schema: z.ZodType<string> } | { readonly customerId: true };
  /** What a message on the channel is: what its rendered subject means (or that it is not sent), whether html goes
   * out, and a check of rendered content beyond the caps (refused at upload, a permanent failure at send). */
  readonly message: {
    readonly subject: 'subject line' | 'title' | 'template id' | 'not sent';
    readonly html: boolean;
    check?(content: TemplateContent): string | undefined;
  };
  /** Whether what the provider raised (or answered) refuses the message for good; anything else is retried. The
   * adapter throws `PermanentChannelError` exactly for these. */
  permanent(err: unknown): boolean;
  /** An optional channel: why the config leaves it off (undefined: configured). Such a channel gets a stand-in that
   * fails every message for good (`notConfiguredChannel`), and a definition that sends on it is not published. Core
   * channels (email, SMS, the webhook) have no such function: their settings are required. */
  notConfigured?(config: Config): string | undefined;
  /** The adapter itself, called only when the channel is configured. `close` releases what it holds (connections). */
  create(config: Config, ctx: ChannelContext): Channel & { close?(): void };
}

export const CHANNEL_ADAPTERS = {
  email: {
    address: { column: 'email', schema: z.email().max(320) },
    message: { subject: 'subject line', html: true },
    permanent: isPermanentSmtpError,
    create: (config) => createEmailChannel({ smtpUrl: config.smtp.url, from: config.smtp.from }),
  },
  sms: {
    address: { column: 'phone', schema: z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number like +8613800138000') },
    message: { subject: 'not sent', html: false },
    permanent: isPermanentTwilioError,
    create: (config, ctx) => createSmsChannel({ ...config.twilio, ...(ctx.apiBase ? { statusCallbackUrl: twilioStatusCallbackUrl(ctx.apiBase) } : {}) }),
  },
  webhook: {
    address: { customerId: true },
    message: { subject: 'title', html: false },
    permanent: isPermanentWebhookAnswer,
    create: (config) => createWebhookChannel(config.webhook),
  },
  wechat: {
    // The openid the official account knows the customer by (28 characters of base64url), in a column of its own:
    // contact data, kept out of `attributes` (which journeys, and so Temporal's history, see) and cleared by erasure.
    address: { column: 'wechatOpenid', schema: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'an official-account openid like oUpF8uMuAJO_M2pxb1Q9zNjWeS6o') },
    message: {
      subject: 'template id',
      html: false,
      check: (content) => {
        const m = templateMessage(content);
        return typeof m === 'string' ? m : undefined;
      },
    },
    permanent: isPermanentWeChatError,
    notConfigured: (config) => (config.wechat ? undefined : 'WECHAT_APP_ID is not set'),
    create: (config) => {
      if (!config.wechat) throw new Error('the wechat channel is not configured');
      return createWeChatChannel(config.wechat);
    },
  },
} as const satisfies Record<ChannelName, ChannelAdapter>;

type Adapters = typeof CHANNEL_ADAPTERS;
/** The customer columns that hold an address, as the registry names them. */
export type AddressColumn = { [C in ChannelName]: Adapters[C]['address'] extends { column: infer K } ? K : never }[ChannelName];

/** Every address column with its validation, once each (two channels may share one). */
export const ADDRESS_COLUMNS: readonly { column: AddressColumn; schema: z.ZodType<string> }[] = [
  ...new Map(
    CHANNEL_NAMES.flatMap((c) => {
      const a: ChannelAdapter['address'] = CHANNEL_ADAPTERS[c].address;
      return 'column' in a ? [[a.column, { column: a.column as AddressColumn, schema: a.schema }] as const] : [];
    }),
  ).values(),
];

/** The customer's address on a channel, or null when there is none. */
export function addressOf(channel: ChannelName, customer: Pick<CustomerModel, 'id' | AddressColumn>): string | null {
  const a: ChannelAdapter['address'] = CHANNEL_ADAPTERS[channel].address;
  return 'column' in a ? customer[a.column as AddressColumn] : customer.id;
}

/** Why a channel is not configured, for each channel the config leaves off (optional channels only). */
export function channelsNotConfigured(config: Config): Partial<Record<ChannelName, string>> {
  return Object.fromEntries(
    CHANNEL_NAMES.flatMap((c) => {
      const why = (CHANNEL_ADAPTERS[c] as ChannelAdapter).notConfigured?.(config);
      return why === undefined ? [] : [[c, why] as const];
    }),
  );
}

/** A channel's adapter, built from the config; a stand-in that refuses every message when the config leaves it off. */
export function createChannel(name: ChannelName, config: Config, ctx: ChannelContext = {}): Channel & { close?(): void } {
  const adapter = CHANNEL_ADAPTERS[name] as ChannelAdapter;
  const why = adapter.notConfigured?.(config);
  return why === undefined ? adapter.create(config, ctx) : notConfiguredChannel(name, why);
}

/** Every channel's adapter, built from the config. */
export function createChannels(config: Config, ctx: ChannelContext = {}): Record<ChannelName, Channel & { close?(): void }> {
  return perChannel((c) => createChannel(c, config, ctx));
}
