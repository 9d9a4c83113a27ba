// The bridge of the Temporal SDK's buffered metrics into the service's registry survives a buffer the SDK's core
// refuses to read. The core panics (an internal error thrown into JavaScript) on an update whose metric's creating
// event it dropped from a full buffer; that read came from a timer, so it used to end the worker process.
import type { MetricsBuffer } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { scrape } from '../service/metrics.js';
import { bridgeTemporalMetrics } from '../worker/temporal-metrics.js';

describe('the Temporal SDK metrics bridge', () => {
  it('goes on when the buffer cannot be read, and says so once rather than on every read', async () => {
    let reads = 0;
    const refusing = {
      retrieveUpdates() {
        reads++;
        throw new Error('internal error in Neon module: You must initialize the reference before using it');
      },
    } as unknown as MetricsBuffer;
    const errors: unknown[][] = [];
    bridgeTemporalMetrics(refusing, { error: (...args: unknown[]) => void errors.push(args) } as never, 60_000);
    const first = await scrape();
    const second = await scrape();
    expect(reads).toBe(2);
    expect(first).toContain('# TYPE');
    expect(second).toContain('# TYPE');
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toContain('Temporal SDK metrics buffer');
  });
});
