// The event sweeper with more than one API process: every API runs one, so two sweepers over one backlog must share
// it — each recorded event handed to the service's delivery by exactly one of them — and a claim left by a process
// that died must lapse, not hold its events forever, and a pass must not outlive its own claim. Real Postgres and the
// service's own delivery; the sweepers' timers are left idle and their passes run by the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../config/logger.js';
import type { JourneyService } from '../service/journeys.js';
import { startEventSweeper, type Sweeper } from '../service/sweeper.js';
import { startStack, type Stack } from './support/stack.js';

let stack: Stack;
const logger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test-sweeper');

beforeAll(async () => {
  stack = await startStack();
  await stack.testDb.db.customer.create({ data: { id: 'sweep-1' } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** Recorded, never delivered, received a minute ago: due for the sweeper. */
async function backlog(prefix: string, n: number, claimedUntil?: Date) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  await stack.testDb.db.inboundEvent.createMany({
    data: ids.map((eventId, i) => ({
      eventId,
      customerId: 'sweep-1',
      type: 'sweeper.test',
      occurredAt: new Date(),
      receivedAt: new Date(Date.now() - 60_000 + i),
      ...(claimedUntil ? { sweepClaimedUntil: claimedUntil } : {}),
    })),
  });
  return ids;
}

/** A sweeper over the stack's service that notes every event it hands to the service's delivery. */
function sweeper(handed: string[]): Sweeper {
  const service = {
    deliverRecorded: async (eventId: string) => {
      handed.push(eventId);
      return stack.service.deliverRecorded(eventId);
    },
  } as unknown as JourneyService;
  return startEventSweeper({ db: stack.testDb.db, service, logger }, { intervalMs: 3_600_000, afterMs: 1_000, batch: 5 });
}

describe('the event sweeper in two API processes', () => {
  it('two sweepers over one backlog each hand on a share, every event by exactly one of them, and all are delivered', async () => {
    const ids = await backlog('two', 30);
    const handedA: string[] = [];
    const handedB: string[] = [];
    const [a, b] = [sweeper(handedA), sweeper(handedB)];
    // Passes side by side until neither finds anything due.
    for (;;) {
      const [x, y] = await Promise.all([a.sweep(), b.sweep()]);
      if (x + y === 0) break;
    }
    await Promise.all([a.stop(), b.stop()]);
    expect([...handedA, ...handedB].sort()).toEqual(ids);
    expect(handedA.length).toBeGreaterThan(0);
    expect(handedB.length).toBeGreaterThan(0);
    expect(await stack.testDb.db.inboundEvent.count({ where: { eventId: { in: ids }, deliveredAt: null } })).toBe(0);
  });

  it('leaves the events another process claimed until its claim lapses, then delivers them', async () => {
    const ids = await backlog('held', 3, new Date(Date.now() + 3_600_000));
    const handed: string[] = [];
    const s = sweeper(handed);
    expect(await s.sweep()).toBe(0);
    expect(handed).toEqual([]);
    // The claiming process died: its lease runs out.
    await stack.testDb.db.inboundEvent.updateMany({ where: { eventId: { in: ids } }, data: { sweepClaimedUntil: new Date(Date.now() - 1_000) } });
    expect(await s.sweep()).toBe(3);
    await s.stop();
    expect(handed).toEqual(ids);
  });

  it('gives back what a pass did not get to: a sweeper stopped mid-pass leaves its remaining events to the next one', async () => {
    const ids = await backlog('stop', 5);
    const handed: string[] = [];
    const service = {
      deliverRecorded: async (eventId: string) => {
        handed.push(eventId);
        const r = await stack.service.deliverRecorded(eventId);
        if (handed.length === 2) void s.stop(); // the process shuts down after its second event
        return r;
      },
    } as unknown as JourneyService;
    const s = startEventSweeper({ db: stack.testDb.db, service, logger }, { intervalMs: 3_600_000, afterMs: 1_000, batch: 5 });
    expect(await s.sweep()).toBe(2);
    const rest = await stack.testDb.db.inboundEvent.findMany({ where: { eventId: { in: ids }, deliveredAt: null }, orderBy: { eventId: 'asc' } });
    expect(rest.map((e) => [e.eventId, e.sweepClaimedUntil])).toEqual(ids.slice(2).map((id) => [id, null]));
    const next: string[] = [];
    const t = sweeper(next);
    expect(await t.sweep()).toBe(3);
    await t.stop();
    expect(next).toEqual(ids.slice(2));
  });

  it('a pass against a slow peer takes no event once half its lease is spent, and gives the rest back to the next pass', async () => {
    const ids = await backlog('slow', 5);
    // The sweeper's clock, moved by the test: the second delivery takes a minute of a two-minute lease.
    let now = Date.now();
    const handed: string[] = [];
    const service = {
      deliverRecorded: async (eventId: string) => {
        handed.push(eventId);
        const r = await stack.service.deliverRecorded(eventId);
        if (handed.length === 2) now += 60_000;
        return r;
      },
    } as unknown as JourneyService;
    const s = startEventSweeper({ db: stack.testDb.db, service, logger, now: () => now }, { intervalMs: 3_600_000, afterMs: 1_000, batch: 5, leaseMs: 120_000 });
    expect(await s.sweep()).toBe(2);
    const rest = await stack.testDb.db.inboundEvent.findMany({ where: { eventId: { in: ids }, deliveredAt: null }, orderBy: { eventId: 'asc' } });
    expect(rest.map((e) => [e.eventId, e.sweepClaimedUntil])).toEqual(ids.slice(2).map((id) => [id, null]));
    // The next pass has a lease of its own: it takes the rest.
    expect(await s.sweep()).toBe(3);
    await s.stop();
    expect(handed).toEqual(ids);
  });
});
