// ISO-8601 durations (PnYnMnWnDTnHnMnS) as exact calendar arithmetic in UTC. Pure and deterministic: the workflow
// and the simulator compute the same instants.

const PATTERN =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export function parseDuration(text: string): Duration | undefined {
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

export function isDuration(text: string): boolean {
  return parseDuration(text) !== undefined;
}

/** `at` moved by the duration, forwards (sign 1) or backwards (sign -1). Months and years follow the calendar. */
export function addDuration(at: Date, text: string, sign: 1 | -1 = 1): Date {
  const d = parseDuration(text);
  if (!d) throw new RangeError(`not an ISO-8601 duration: ${text}`);
  const t = new Date(at.getTime());
  if (d.years || d.months) t.setUTCMonth(t.getUTCMonth() + sign * (d.years * 12 + d.months));
  const ms =
    ((d.weeks * 7 + d.days) * 86_400 + d.hours * 3_600 + d.minutes * 60) * 1000 + Math.round(d.seconds * 1000);
  return new Date(t.getTime() + sign * ms);
}
