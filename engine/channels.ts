// The channels, declared once. Every channel enum of the service — the definition language, the request and response
// schemas, template files, consent keys, the contact policy's per-channel settings, the preference page — derives from
// this list; what a channel does (its address, its provider, its errors) is its adapter in channels/registry.ts, which
// the compiler holds to this list (`satisfies Record<ChannelName, ChannelAdapter>`).
//
// Bundle-safe: no zod, no Node. The engine and the workflow bundle import it (the lint fence checks every file here).

/** A local time of day, "HH:MM". */
type LocalTime = `${number}:${number}`;

/** What the service knows of a channel without its adapter: static facts, the same in every process. */
export interface ChannelFacts {
  /** How the channel is named to a customer (the preference page), per language. */
  readonly label: { readonly en: string; readonly 'zh-CN': string };
  /** Whether a template for this channel must have a subject (email: its subject line; WeChat: the template id). */
  readonly subjectRequired: boolean;
  /** The longest output the channel accepts, in characters, per rendered part. Over it a render fails for good. */
  readonly outputCaps: { readonly subject: number; readonly text: number; readonly html: number };
  /** The contact policy's default quiet hours, in the customer's zone (none: the channel may speak at any hour). */
  readonly quietHours?: { readonly start: LocalTime; readonly end: LocalTime };
  /** The contact policy's default caps on marketing messages across all journeys of a customer. */
  readonly marketingCaps: readonly { readonly limit: number; readonly window: string }[];
}

export const CHANNELS = {
  email: {
    label: { en: 'Email', 'zh-CN': '电子邮件' },
    subjectRequired: true,
    // A subject is one header line (998); the body and html what mail systems carry comfortably.
    outputCaps: { subject: 998, text: 100_000, html: 500_000 },
    marketingCaps: [
      { limit: 3, window: 'P1D' },
      { limit: 10, window: 'P7D' },
    ],
  },
  sms: {
    label: { en: 'Text messages (SMS)', 'zh-CN': '短信' },
    subjectRequired: false,
    // 1 600: Twilio's body limit.
    outputCaps: { subject: 998, text: 1_600, html: 500_000 },
    quietHours: { start: '21:00', end: '08:00' },
    marketingCaps: [
      { limit: 2, window: 'P1D' },
      { limit: 5, window: 'P7D' },
    ],
  },
  webhook: {
    label: { en: 'App notifications', 'zh-CN': 'App 通知' },
    subjectRequired: false,
    // A push title and text: what an app notification can carry.
    outputCaps: { subject: 1_000, text: 10_000, html: 500_000 },
    quietHours: { start: '22:00', end: '08:00' },
    marketingCaps: [{ limit: 3, window: 'P1D' }],
  },
  wechat: {
    label: { en: 'WeChat', 'zh-CN': '微信' },
    // The subject is the official account's template id (模板ID): a template message has no subject line.
    subjectRequired: true,
    // A template id is 43 characters; the fields of a template message are short (WeChat cuts a `thing` at 20).
    outputCaps: { subject: 128, text: 2_000, html: 500_000 },
    quietHours: { start: '22:00', end: '08:00' },
    marketingCaps: [{ limit: 2, window: 'P1D' }],
  },
} as const satisfies Record<string, ChannelFacts>;

export type ChannelName = keyof typeof CHANNELS;

/** Every channel's name, in declaration order (a non-empty tuple, as schema enums want it). */
export const CHANNEL_NAMES = Object.keys(CHANNELS) as [ChannelName, ...ChannelName[]];

export function isChannelName(value: unknown): value is ChannelName {
  return typeof value === 'string' && Object.hasOwn(CHANNELS, value);
}

/** The key of a customer's `consents` that holds a channel's marketing consent alone: `email_marketing`. */
export const marketingConsentKey = <C extends ChannelName>(channel: C) => `${channel}_marketing` as const;
export type ConsentKey = ChannelName | `${ChannelName}_marketing`;
/** The only keys of `consents`: each channel, then each channel's marketing alone. */
export const CONSENT_KEYS: readonly ConsentKey[] = [...CHANNEL_NAMES, ...CHANNEL_NAMES.map(marketingConsentKey)];

/** One value per channel, built from the list (a per-channel record the compiler knows is complete). */
export function perChannel<T>(f: (name: ChannelName, facts: ChannelFacts) => T): Record<ChannelName, T> {
  return Object.fromEntries(CHANNEL_NAMES.map((c) => [c, f(c, CHANNELS[c])])) as Record<ChannelName, T>;
}
