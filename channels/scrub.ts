// Provider error texts quote the recipient ("The 'To' number +8613800138000 is not a valid phone number", "550 5.1.1
// <someone@example.com>: Recipient address rejected", a webhook receiver echoing the body). Those texts become log
// lines, activity failures (kept in Temporal's history) and message rows, so they are scrubbed where channel errors are
// born: email addresses, phone numbers and the values the caller knows to be personal (the recipient, the name) are
// replaced by a placeholder, the rest (status codes, error codes, hosts) stays for whoever diagnoses the failure.
import { PermanentChannelError } from './channel.js';

const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
/** 7 to 15 digits, optionally after a +, grouped by spaces, dashes or parentheses (E.164 and national formats). Not
 * part of a word, a dotted number (an IP address, an SMTP enhanced code) or a path. */
const PHONE = /(?<![\w.:/+-])\+?\d(?:[ ()-]{0,2}\d){6,14}(?![\w.:/-]|\d)/g;
/** UUIDs (message and event ids) are ids, not numbers: kept. */
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

export const SCRUBBED = {
  email: '[email]',
  phone: '[phone]',
  personal: '[redacted]',
} as const;

/** The text with email addresses, phone numbers and the given personal values replaced. */
export function scrub(text: string, known: readonly (string | null | undefined)[] = []): string {
  let out = text;
  // Known values first, longest first (a name inside an address is replaced with the address).
  for (const value of [...new Set(known)].filter((v): v is string => typeof v === 'string' && v.trim().length >= 3).sort((a, b) => b.length - a.length))
    out = out.split(value).join(value.includes('@') ? SCRUBBED.email : /^\+?[\d ()-]+$/.test(value) ? SCRUBBED.phone : SCRUBBED.personal);
  out = out.replace(EMAIL, SCRUBBED.email);
  // Digits inside an id are not a number: ids are cut out around the phone pattern, then put back.
  const kept = out.split(UUID);
  const ids = out.match(UUID) ?? [];
  return kept.map((part, i) => part.replace(PHONE, SCRUBBED.phone) + (ids[i] ?? '')).join('');
}

/**
 * A channel's error as one fit to leave the adapter: the same kind (permanent or transient) and code, a scrubbed
 * message, and a fresh stack (a stack's first line repeats the original message) with no cause attached.
 */
export function scrubbedError(err: unknown, known: readonly (string | null | undefined)[] = []): Error {
  const message = scrub(err instanceof Error ? err.message : String(err), known);
  if (err instanceof PermanentChannelError) return new PermanentChannelError(message, err.code);
  const e = new Error(message);
  if (err instanceof Error) e.name = err.name;
  return e;
}
