// The service's Prometheus series, one registry per process: the API's requests, the events and journeys it takes in,
// and (in the worker) the sends, the contact policy's decisions, journey ends and activity latency. `npm start` runs
// API and worker in one process, so its /metrics shows both; a separate worker serves the same registry on its own
// port (worker/metrics-server.ts). Labels are bounded sets only — route patterns, channels, statuses, reasons,
// journey keys — never an id, an address or anything a caller types freely.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'journeys_process_' });

/** Seconds: from a few milliseconds (a cached read) to the 30 s an activity may take. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const httpRequests = new Counter({
  name: 'journeys_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern (never the raw path) and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});
export const httpDuration = new Histogram({
  name: 'journeys_http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});
export const eventsReceived = new Counter({
  name: 'journeys_events_received_total',
  help: 'Business events taken in by the API: new ones, and repeats of an eventId already recorded (answered, not delivered again)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const journeysStarted = new Counter({
  name: 'journeys_started_total',
  help: 'Journeys started, by journey key and what started them (api, event, journey)',
  labelNames: ['journey', 'via'] as const,
  registers: [registry],
});
export const journeysEnded = new Counter({
  name: 'journeys_ended_total',
  help: 'Journeys ended, by journey key and status (completed, exited, failed), counted by the worker when it records the end',
  labelNames: ['journey', 'status'] as const,
  registers: [registry],
});
export const sends = new Counter({
  name: 'journeys_sends_total',
  help: 'Send attempts by channel and outcome: sent, suppressed, deferred, dropped, failed (for good), error (transient, retried)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});
export const policyDecisions = new Counter({
  name: 'journeys_policy_decisions_total',
  help: 'Contact policy decisions on a send, by decision (allowed, suppressed, deferred, dropped) and reason',
  labelNames: ['decision', 'reason'] as const,
  registers: [registry],
});
export const activityDuration = new Histogram({
  name: 'journeys_activity_duration_seconds',
  help: 'Time an activity attempt took in this worker, by activity and outcome (ok, error)',
  labelNames: ['activity', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

const beforeScrape: (() => void)[] = [];
/** Runs `fn` before each scrape (the worker's bridge drains the Temporal SDK's buffered metrics into the registry). */
export function onScrape(fn: () => void): void {
  beforeScrape.push(fn);
}
/** The registry in Prometheus' text format, brought up to date first. */
export async function scrape(): Promise<string> {
  for (const fn of beforeScrape) fn();
  return registry.metrics();
}
