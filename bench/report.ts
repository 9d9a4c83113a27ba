// What a bench run records (bench/results/*.json) and its markdown report (latest.md).
import type { EngineResult } from './engine.js';
import type { Latency, Options, Spread } from './lib.js';

export interface Sweep<T> {
  rows: (T & { concurrency: number })[];
  max: number;
}
/** The parts of one event→send (bench/run.ts `phasesOf`), ms. */
export const PHASES = ['api', 'queue', 'task', 'activityWait', 'send'] as const;
export type Phases = Record<(typeof PHASES)[number], number>;
const PHASE_WORDS: Record<(typeof PHASES)[number], string> = {
  api: 'the API, until Temporal had the signal',
  queue: "the workflow task's wait for the worker",
  task: 'the workflow task',
  activityWait: "the send activity's wait for a worker",
  send: 'the send activity until the SMS arrived',
};
/** The median parts of the slowest event→sends. */
export function phasesLine(p: Phases & { n: number }): string {
  return `The slowest ${p.n}, taken apart by their journeys' histories (median ms): ${PHASES.map((k) => `${PHASE_WORDS[k]} ${p[k]}`).join('; ')}.`;
}

export interface EventsRow {
  concurrency: number;
  rest: Latency;
  eventToSend: Latency;
  slowest: Phases & { n: number };
}
type Rss = { workerMiB: number | null; apiMiB: number | null; temporalMiB: number | null };

export interface RunResult {
  run: number;
  ceiling: { starts: Sweep<Latency>; signalWithStart: Sweep<Latency> };
  serviceStarts: Sweep<Latency>;
  serviceEvents: Sweep<Omit<EventsRow, 'concurrency'>> & {
    atHalfMax: { concurrency: number; perSec: number; eventToSend: Latency; slowest: Phases & { n: number } };
    /** CPU seconds each process spent over the events rounds (from the first request to the last SMS received). */
    cpuSeconds: { events: number; worker: number; api: number; temporal: number };
    /** Events handled ÷ CPU seconds of that process. */
    eventsPerCoreSecond: { worker: number; api: number; temporal: number };
    /** Database growth over the events rounds ÷ events. */
    postgresBytesPerEvent: number;
    /** Temporal history of 50 journeys of the first round, before and after their event (medians). */
    history: { journeys: number; bytesBefore: number; bytesAfter: number; bytesPerEvent: number };
  };
  enrolment?: { customers: number; pagesMs: number; ms: number; started: number; skipped: Record<string, number>; failed: number; perSec: number; vsCeiling: number };
  ratios: { startsVsRawStarts: number; eventsVsRawSignalWithStart: number; enrolmentVsRawStarts?: number; eventToSendP99AtHalfMax: number };
}

export interface OpenResult {
  journeys: number;
  started: number;
  /** How the customers were made: PUT /v1/customers/:id, or their rows inserted in SQL. */
  customersVia: 'api' | 'sql';
  customersPerSec: number;
  /** From the enrolment's start to its completion (every start accepted). */
  acceptedSeconds: number;
  acceptedPerSec: number;
  /** From the enrolment's start until the worker has initialised every journey. */
  openSeconds: number;
  opensPerSec: number;
  /** The median over the runs of the bare-start ceiling. */
  ceilingStarts: number;
  opensVsCeiling: number;
  opened: Rss & { postgresBytes: number };
  afterEvents: Rss;
  postgres: {
    bytesBefore: number;
    bytesOpened: number;
    bytesPerOpenJourney: number;
    bytesPerEvent: number;
    tables: Record<string, { before: number; opened: number; afterEvents: number }>;
  };
  history: { journeys: number; bytesPerOpenJourney: number; bytesPerEvent: number };
  eventToSend: Latency;
  slowest: Phases & { n: number };
  sampleCpuSeconds: { worker: number; api: number; temporal: number };
  analytics: { route: string; p50: number; p95: number }[];
}

export interface Results {
  label: string;
  at: string;
  options: Options;
  machine: { cpus: number; cpu: string | undefined; memGiB: number; node: string };
  runs: RunResult[];
  spread?: {
    startsVsRawStarts: Spread;
    eventsVsRawSignalWithStart: Spread;
    enrolmentVsRawStarts?: Spread;
    eventToSendP99AtHalfMax: Spread;
    eventsPerWorkerCoreSecond: Spread;
  };
  profile?: string;
  open?: OpenResult;
  engine?: EngineResult;
  planning?: {
    eventsPerWorkerCoreSecond: Spread;
    eventsPerApiCoreSecond: number;
    eventsPerTemporalCoreSecond: number;
    historyBytesPerOpenJourney: number;
    historyBytesPerEvent: number;
    historyBytesPerEventEventsScenario: number;
    postgresBytesPerOpenJourney: number;
    postgresBytesPerEvent: number;
    journeyYear: { events: number; historyBytes: number; postgresBytes: number; formula: string };
  };
  wallSeconds?: number;
}

const table = <T>(rows: T[], cols: [string, (x: T) => unknown][]) =>
  `| ${cols.map((c) => c[0]).join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n` + rows.map((x) => `| ${cols.map((c) => String(c[1](x))).join(' | ')} |`).join('\n') + '\n';
const lat = (x: Latency) => `${x.p50} / ${x.p95} / ${x.p99}`;
const bytes = (b: number) =>
  !Number.isFinite(b) ? 'n/a' : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : b >= 2 ** 10 ? `${(b / 2 ** 10).toFixed(1)} KiB` : `${Math.round(b)} B`;
const met = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'not met');

export function markdown(r: Results): string {
  const o = r.options;
  let out = `# Bench ${r.label} — ${r.at}\n\n${r.machine.cpus} × ${r.machine.cpu}, ${r.machine.memGiB} GiB, Node ${r.machine.node}. `;
  out += `${o.quick ? 'Quick profile' : 'Full profile'}: ${o.runs} run(s), N = ${o.n} per level, levels ${o.levels.join(', ')} (doubled while still rising), enrolment ${o.enrol}, open ${o.open}`;
  out += r.wallSeconds !== undefined ? `; wall time ${Math.round(r.wallSeconds)} s.\n\n` : '.\n\n';

  const s = r.spread!;
  const row = (name: string, target: string, sp: Spread | undefined, ok?: (x: number) => boolean) =>
    sp ? `| ${name} | ${target} | ${sp.values.join(', ')} | ${sp.min} / **${sp.median}** / ${sp.max} | ${ok ? met(ok(sp.median)) : ''} |\n` : '';
  out += `## Headline ratios (to the bare-Temporal ceiling of the same run)\n\n| figure | target | per run | min / median / max | median |\n| --- | --- | --- | --- | --- |\n`;
  out += row('service starts / bare starts', '≥ 0.9', s.startsVsRawStarts, (x) => x >= 0.9);
  out += row('service events / bare signalWithStart', '≥ 0.8', s.eventsVsRawSignalWithStart, (x) => x >= 0.8);
  out += row('bulk enrolment / bare starts', '≥ 0.9', s.enrolmentVsRawStarts, (x) => x >= 0.9);
  out += row('event→send p99 at half the max event rate, ms', '< 250', s.eventToSendP99AtHalfMax, (x) => x < 250);
  out += row('events per worker CPU-second', '', s.eventsPerWorkerCoreSecond);
  out += '\n';

  if (r.open || r.engine) {
    out += `## Other targets\n\n| figure | value | target | |\n| --- | --- | --- | --- |\n`;
    if (r.open) {
      const w = r.open.opened.workerMiB;
      out += `| worker RSS with ${r.open.journeys} open journeys | ${w ?? 'n/a'} MiB | < 1 024 MiB at 100 000 | ${met(w === null ? undefined : w < 1024)}${r.open.journeys < 100_000 ? ' (at fewer than 100 000)' : ''} |\n`;
      out += `| event→send p99 while ${r.open.journeys} are open | ${r.open.eventToSend.p99} ms | < 500 ms | ${met(r.open.eventToSend.p99 < 500)} |\n`;
    }
    if (r.engine) out += `| a 365-day loan simulated | ${r.engine.msPerJourney} ms | < 20 ms | ${met(r.engine.msPerJourney < 20)} |\n`;
    out += '\n';
  }

  if (r.planning) {
    const p = r.planning;
    out += `## Planning figures\n\n`;
    out += `- events per worker CPU-second (events handled ÷ the worker process's CPU seconds over the events rounds): **${p.eventsPerWorkerCoreSecond.median}** (runs: ${p.eventsPerWorkerCoreSecond.values.join(', ')}); per API CPU-second ${p.eventsPerApiCoreSecond}; per Temporal-server CPU-second ${p.eventsPerTemporalCoreSecond}\n`;
    out += `- Temporal history: ${bytes(p.historyBytesPerOpenJourney)} per open journey (waiting on its timer), ${bytes(p.historyBytesPerEvent)} per event (one event, one SMS; ${bytes(p.historyBytesPerEventEventsScenario)} in the events scenario)\n`;
    out += `- Postgres: ${bytes(p.postgresBytesPerOpenJourney)} per open journey (its enrolment item, journey row, first stage; the customer row not counted), ${bytes(p.postgresBytesPerEvent)} per event (the event, its message and story, the audit entry)\n`;
    out += `- **journey-year** (a bank-loan-like journey open a year with ${p.journeyYear.events} events, each causing one send): **${bytes(p.journeyYear.historyBytes)} of history, ${bytes(p.journeyYear.postgresBytes)} of Postgres**. ${p.journeyYear.formula}.\n\n`;
  }

  for (const run of r.runs) {
    const sw = (x: Latency & { concurrency: number }, of: number) => [x.concurrency, x.perSec, (x.perSec / of).toFixed(3), lat(x)];
    const cols = (of: number): [string, (x: Latency & { concurrency: number }) => unknown][] => [
      ['concurrency', (x) => sw(x, of)[0]],
      ['/s', (x) => sw(x, of)[1]],
      ['÷ ceiling', (x) => sw(x, of)[2]],
      ['p50 / p95 / p99 ms', lat],
    ];
    const c = run.ceiling;
    out += `## Run ${run.run}\n\n### Ceiling (bare Temporal)\n\nStarts (max ${c.starts.max}/s)\n\n${table(c.starts.rows, cols(c.starts.max))}\n`;
    out += `signalWithStart (max ${c.signalWithStart.max}/s)\n\n${table(c.signalWithStart.rows, cols(c.signalWithStart.max))}\n`;
    out += `### Service starts (POST /v1/journeys), ÷ bare starts\n\n${table(run.serviceStarts.rows, cols(c.starts.max))}\n`;
    const e = run.serviceEvents;
    out += `### Service events (POST /v1/customers/:id/events → one SMS), ÷ bare signalWithStart\n\n${table(e.rows, [
      ['concurrency', (x) => x.concurrency],
      ['/s', (x) => x.rest.perSec],
      ['÷ ceiling', (x) => (x.rest.perSec / c.signalWithStart.max).toFixed(3)],
      ['REST p50 / p95 / p99 ms', (x) => lat(x.rest)],
      ['event→send p50 / p95 / p99 ms', (x) => lat(x.eventToSend)],
    ])}\n`;
    out += `At half the maximum rate (c=${e.atHalfMax.concurrency}, ${e.atHalfMax.perSec}/s): event→send p99 **${e.atHalfMax.eventToSend.p99} ms**. ${phasesLine(e.atHalfMax.slowest)} `;
    out += `CPU over the ${e.cpuSeconds.events} events: worker ${e.cpuSeconds.worker} s, API ${e.cpuSeconds.api} s, Temporal ${e.cpuSeconds.temporal} s → ${e.eventsPerCoreSecond.worker} events per worker CPU-second. `;
    out += `Postgres grew ${bytes(e.postgresBytesPerEvent)} per event; history of ${e.history.journeys} journeys ${bytes(e.history.bytesBefore)} → ${bytes(e.history.bytesAfter)} (${bytes(e.history.bytesPerEvent)} per event).\n\n`;
    if (run.enrolment) {
      const en = run.enrolment;
      out += `### Bulk enrolment (POST /v1/enrolments)\n\n${en.started} of ${en.customers} customers started in ${en.ms} ms: **${en.perSec}/s**, ${en.vsCeiling} of bare starts (${c.starts.max}/s; rate asked 2 000/s); the pages of ids took ${en.pagesMs} ms${en.failed ? `; ${en.failed} failed` : ''}.\n\n`;
    }
  }

  if (r.open) {
    const x = r.open;
    out += `## ${x.journeys} open journeys (bulk enrolment, each waiting on a 30-day timer)\n\n`;
    out +=
      x.customersVia === 'api'
        ? `Customers made through PUT /v1/customers at ${x.customersPerSec}/s. `
        : `Customers inserted directly in SQL (the rows PUT /v1/customers writes; not measured). `;
    out += `${x.started} journeys accepted in ${x.acceptedSeconds} s (${x.acceptedPerSec}/s), initialised by the worker in ${x.openSeconds} s: **${x.opensPerSec}/s**, ${x.opensVsCeiling} of bare starts (median ceiling ${x.ceilingStarts}/s).\n\n`;
    out += table(
      [
        ['with K open', x.opened],
        ['after the sample’s events', x.afterEvents],
      ] as const,
      [
        ['', (y) => y[0]],
        ['worker RSS MiB', (y) => y[1].workerMiB],
        ['API RSS MiB', (y) => y[1].apiMiB],
        ['Temporal RSS MiB', (y) => y[1].temporalMiB],
      ],
    );
    out += `\nPostgres: ${bytes(x.postgres.bytesBefore)} before (the customers made), ${bytes(x.postgres.bytesOpened)} with K open: **${bytes(x.postgres.bytesPerOpenJourney)} per open journey**. Temporal history: **${bytes(x.history.bytesPerOpenJourney)} per open journey**, ${bytes(x.history.bytesPerEvent)} per event (median of ${x.history.journeys}).\n\n`;
    out += table(Object.entries(x.postgres.tables), [
      ['table', (t) => t[0]],
      ['before', (t) => bytes(t[1].before)],
      ['K open', (t) => bytes(t[1].opened)],
      ['after the events', (t) => bytes(t[1].afterEvents)],
      ['per open journey', (t) => bytes((t[1].opened - t[1].before) / x.journeys)],
    ]);
    out += `\nOne event to each of ${x.eventToSend.n} random open journeys (concurrency 8): event→send p50 / p95 / p99 **${lat(x.eventToSend)} ms** (worker ${x.sampleCpuSeconds.worker} CPU-s, API ${x.sampleCpuSeconds.api}, Temporal ${x.sampleCpuSeconds.temporal}). ${phasesLine(x.slowest)}\n\n`;
    out += `The console's analytics over the ${x.journeys} journeys (GET /v1/analytics/journeys/bench-idle/…, ${o.analyticsRequests} requests each after 2 warm-ups):\n\n`;
    out += table(x.analytics, [
      ['route', (a) => a.route],
      ['p50 ms', (a) => a.p50],
      ['p95 ms', (a) => a.p95],
    ]);
    out += '\n';
  }
  if (r.profile) out += `CPU profiles: ${r.profile}\n\n`;
  if (r.engine)
    out += `## Engine\n\nA ${r.engine.days}-day loan journey with ${r.engine.events} events (${r.engine.commandsPerJourney} commands): **${r.engine.msPerJourney} ms** per journey.\n`;
  return out;
}
