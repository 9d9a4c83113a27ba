// The one interface every outbound channel implements. Adapters know nothing of Temporal or the database.

export interface OutboundMessage {
  /** Email address, E.164 phone number, or (webhook) the customer id. */
  to: string;
  subject?: string;
  text: string;
  html?: string;
  /** Stable per message across retries: adapters pass it on where the provider can use it (e.g. Message-ID). */
  idempotencyKey: string;
  /** The service's id of the message, for delivery callbacks to find it. */
  messageId?: string;
}

export interface Delivery {
  providerId: string;
}

export type ChannelName = 'email' | 'sms' | 'webhook';

export interface Channel {
  readonly name: ChannelName;
  send(message: OutboundMessage): Promise<Delivery>;
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
