// Local times of day in a customer's time zone, with the IANA data the runtime carries (Intl). Pure: the same
// inputs give the same instant, in the workflow and in the simulator.

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function parts(at: Date, tz: string) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  const o: Record<string, number> = {};
  for (const p of f.formatToParts(at)) if (p.type !== 'literal') o[p.type] = Number(p.value);
  return { y: o.year!, mo: o.month!, d: o.day!, h: o.hour!, mi: o.minute!, s: o.second! };
}

/** Offset of the zone from UTC at an instant, in ms. */
function offsetAt(at: Date, tz: string): number {
  const p = parts(at, tz);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(at.getTime() / 1000) * 1000;
}

/** The instant a local wall-clock time happens in the zone. */
export function localToInstant(y: number, mo: number, d: number, h: number, mi: number, tz: string): Date {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const before = wall - offsetAt(new Date(wall - 43_200_000), tz);
  const after = wall - offsetAt(new Date(wall + 43_200_000), tz);
  const shows = (t: number) => {
    const p = parts(new Date(t), tz);
    return p.h === h && p.mi === mi;
  };
  // Ambiguous (clocks went back): the first occurrence. Missing (clocks went forward): the wall time read with the
  // offset before the jump, which lands the same distance past the jump.
  if (shows(before)) return new Date(before);
  if (shows(after)) return new Date(after);
  return new Date(before);
}

/** The next instant strictly after `now` at which the local time in `tz` is `hh:mm`. */
export function nextLocalTime(now: Date, hhmm: string, tz: string): Date {
  const [h, mi] = hhmm.split(':').map(Number) as [number, number];
  const p = parts(now, tz);
  for (let add = 0; add < 3; add++) {
    const day = new Date(Date.UTC(p.y, p.mo - 1, p.d + add));
    const at = localToInstant(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), h, mi, tz);
    if (at.getTime() > now.getTime()) return at;
  }
  throw new RangeError(`no next ${hhmm} in ${tz} after ${now.toISOString()}`);
}

/** The customer's local hour and minute at an instant (for quiet hours and the like). */
export function localClock(at: Date, tz: string): { hour: number; minute: number; weekday: number } {
  const p = parts(at, tz);
  return { hour: p.h, minute: p.mi, weekday: new Date(Date.UTC(p.y, p.mo - 1, p.d)).getUTCDay() };
}
