// The Temporal SDK's own worker metrics (task slots, poll and schedule-to-start latencies, sticky cache, workflow and
// activity task outcomes…) in the service's registry. The SDK's core can serve Prometheus itself on a bind address,
// but that endpoint has no authentication and needs a fixed port per process; instead the Runtime buffers its metric
// updates (`telemetryOptions.metrics.buffer`) and this bridge replays them into prom-client series of the same name
// (prefixed `temporal_`), so they are scraped with the rest, behind the same token, from the same endpoint.
import type { BufferedMetricUpdate, MetricsBuffer } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';
import { Counter, Gauge, Histogram, type Metric } from 'prom-client';
import { onScrape, registry } from '../service/metrics.js';

/** Seconds (the buffer is asked for seconds): from a millisecond poll to a minute-long long poll. */
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];

type Series = { metric: Metric<string>; labels: string[]; apply(labels: Record<string, string>, value: number): void };
const series = new Map<string, Series>();

const promName = (name: string) => (name.startsWith('temporal_') ? name : `temporal_${name}`).replace(/[^a-zA-Z0-9_:]/g, '_');
const labelName = (key: string) => key.replace(/[^a-zA-Z0-9_]/g, '_');

function seriesFor(update: BufferedMetricUpdate): Series {
  const { metric } = update;
  const name = promName(metric.name);
  const found = series.get(name);
  if (found) return found;
  // The first update's attribute names are the series' labels; core emits the same set for a metric every time.
  const labels = Object.keys(update.attributes).map(labelName);
  const help = metric.description || metric.name;
  let made: Series;
  switch (metric.kind) {
    case 'counter': {
      const c = new Counter({ name, help, labelNames: labels, registers: [registry] });
      made = { metric: c, labels, apply: (l, v) => c.inc(l, v) };
      break;
    }
    case 'histogram': {
      const h = new Histogram({ name, help, labelNames: labels, buckets: BUCKETS, registers: [registry] });
      made = { metric: h, labels, apply: (l, v) => h.observe(l, v) };
      break;
    }
    case 'gauge': {
      const g = new Gauge({ name, help, labelNames: labels, registers: [registry] });
      made = { metric: g, labels, apply: (l, v) => g.set(l, v) };
      break;
    }
    case 'up-down-counter': {
      const g = new Gauge({ name, help, labelNames: labels, registers: [registry] });
      made = { metric: g, labels, apply: (l, v) => g.inc(l, v) };
      break;
    }
  }
  series.set(name, made);
  return made;
}

/** Replays what the buffer holds into the registry; an attribute the series was not made with is left out. */
export function drain(buffer: MetricsBuffer): number {
  let n = 0;
  for (const update of buffer.retrieveUpdates()) {
    const s = seriesFor(update);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(update.attributes)) {
      const key = labelName(k);
      if (s.labels.includes(key)) labels[key] = String(v);
    }
    for (const key of s.labels) labels[key] ??= '';
    s.apply(labels, update.value);
    n++;
  }
  return n;
}

/**
 * Drains the buffer before every scrape and every second between (so it never fills up and drops updates). A read the
 * SDK's core refuses (an internal error: it panics on an update whose metric it dropped) is logged and the worker goes
 * on: the SDK's metrics are an observation of the worker, never a reason for it to stop.
 */
export function bridgeTemporalMetrics(buffer: MetricsBuffer, logger: Pick<Logger, 'error'>, everyMs = 1_000): void {
  let failures = 0;
  const safeDrain = () => {
    try {
      return drain(buffer);
    } catch (err) {
      // Said the first time and then every 100th, not every second.
      if (failures++ % 100 === 0) logger.error({ err: (err as Error)?.message, failures }, 'could not read the Temporal SDK metrics buffer');
      return 0;
    }
  };
  onScrape(() => void safeDrain());
  setInterval(safeDrain, everyMs).unref();
}
