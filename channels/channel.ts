// The one interface every outbound channel implements. Adapters know nothing of Temporal or the database.

export interface OutboundMessage {
  /** The customer's address on the channel (its adapter says which: an email address, an E.164 number, the customer
   * id…). */
  to: string;
  subject?: string;
  text: string;
  html?: string;
  /** Stable per message across retries: adapters pass it on where the provider can use it (e.g. Message-ID). */
  idempotencyKey: string;
  /** The service's id of the message, for delivery callbacks to find it. */
  messageId?: string;
  /** Extra headers (email): the one-click unsubscribe of a marketing email. */
  headers?: Record<string, string>;
}

export interface Delivery {
  providerId: string;
}

export type { ChannelName } from '../engine/channels.js';
import type { ChannelName } from '../engine/channels.js';

export interface Channel {
  readonly name: ChannelName;
  send(message: OutboundMessage): Promise<Delivery>;
  /**
   * Where the provider can be asked what it has (SMS): the provider's messages that may be this one, sent by an
   * earlier attempt that died before it heard the answer, oldest first. Asked before a resend of a send in doubt;
   * `since` is when the message row was written (no attempt is older). Throws (transient) when the provider cannot
   * be asked. Channels without it resend, and rely on the idempotency key reaching the receiver.
   */
  findSent?(message: OutboundMessage, since: Date): Promise<Delivery[]>;
}

/** The provider refused the message for good (invalid number, rejected address): retrying cannot help. Any other
 * error an adapter throws is treated as transient and retried. */
export class PermanentChannelError extends Error {
  constructor(
    message: string,
    readonly code?: string | number,
  ) {
    super(message);
    this.name = 'PermanentChannelError';
  }
}

/** What a channel the deployment has not configured (an optional one: WeChat without WECHAT_APP_ID) is instead of its
 * adapter: `notConfigured` says why, and the send activity fails its messages for good with the reason
 * `channel_not_configured` before anything else is done; `send` refuses too, should anything call it. */
export interface NotConfiguredChannel extends Channel {
  readonly notConfigured: string;
}

export function notConfiguredChannel(name: ChannelName, why: string): NotConfiguredChannel {
  const message = `the ${name} channel is not configured: ${why}`;
  return {
    name,
    notConfigured: message,
    send: () => Promise.reject(new PermanentChannelError(message, 'channel_not_configured')),
  };
}

export const isNotConfigured = (channel: Channel): channel is NotConfiguredChannel => typeof (channel as Partial<NotConfiguredChannel>).notConfigured === 'string';
