// Dates and amounts as the customer reads them: through Intl, in the customer's own time zone and locale. A Chinese
// email says 2027年11月30日 and ¥80,000.00, an English one 30 Nov 2027 — never 2027-11-30T00:00:00Z or 80000.
//
// These are the Liquid filters of the template engine (channels/templates.ts): `{{ event.expiresAt | local_date }}`,
// `{{ event.dueAt | local_datetime }}`, `{{ event.limit | money }}`. They read the zone and the locale from the
// template's `customer` (a send gives the customer's zone, or the contact policy's default when it has none), and take
// them as arguments too (`| local_date: "Asia/Shanghai", "en"`, `| money: "USD"`).

/** Plain `en` reads as British English: "30 Nov 2027" (day before month) is how a bank's English letters write dates
 * in Hong Kong, Singapore and Europe alike; a customer whose locale says `en-US` gets "Nov 30, 2027". */
const INTL_LOCALE: Record<string, string> = { en: 'en-GB', zh: 'zh-CN' };

export const DEFAULT_CURRENCY = 'CNY';
const FALLBACK_ZONE = 'UTC';

function intlLocale(locale: unknown): string {
  const given = typeof locale === 'string' && locale ? locale : 'en';
  const mapped = INTL_LOCALE[given] ?? given;
  try {
    return Intl.DateTimeFormat.supportedLocalesOf([mapped]).length ? mapped : 'en-GB';
  } catch {
    return 'en-GB'; // not a well-formed tag
  }
}

function zoneOr(zone: unknown): string {
  if (typeof zone !== 'string' || !zone) return FALLBACK_ZONE;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return FALLBACK_ZONE;
  }
}

/** An ISO string, epoch milliseconds or a Date as a Date; undefined when it is none of those. */
function toDate(value: unknown): Date | undefined {
  const d = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** What a filter prints for a value it cannot read: the value as it came (a template shows the data it was given
 * rather than failing the send over its format), nothing for a missing one. */
const asGiven = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** The calendar date in the zone and locale: `2027年11月30日`, `30 Nov 2027`. */
export function localDate(value: unknown, timeZone: unknown, locale: unknown): string {
  const d = toDate(value);
  if (!d) return asGiven(value);
  const loc = intlLocale(locale);
  const month = loc.startsWith('zh') || loc.startsWith('ja') ? 'long' : 'short';
  return new Intl.DateTimeFormat(loc, { timeZone: zoneOr(timeZone), year: 'numeric', month, day: 'numeric' }).format(d);
}

/** The date and the local time (24-hour clock), with the zone's short name: `2027年11月30日 08:00`, `30 Nov 2027, 08:00`. */
export function localDateTime(value: unknown, timeZone: unknown, locale: unknown): string {
  const d = toDate(value);
  if (!d) return asGiven(value);
  const loc = intlLocale(locale);
  const month = loc.startsWith('zh') || loc.startsWith('ja') ? 'long' : 'short';
  return new Intl.DateTimeFormat(loc, { timeZone: zoneOr(timeZone), year: 'numeric', month, day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}

/** An amount in a currency (default CNY) in the locale: `¥80,000.00` (zh-CN), `CN¥80,000.00` (en). */
export function money(value: unknown, currency: unknown, locale: unknown): string {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return asGiven(value);
  const code = typeof currency === 'string' && /^[A-Z]{3}$/.test(currency) ? currency : DEFAULT_CURRENCY;
  return new Intl.NumberFormat(intlLocale(locale), { style: 'currency', currency: code }).format(n);
}
