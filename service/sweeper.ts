// Delivers events that were recorded but not delivered (Temporal was down, or the API stopped, between recording an
// event and signalling its journeys), so an accepted event reaches its journeys without the client having to retry.
// Delivery is the API's own path (JourneyService.deliverRecorded); a journey ignores an event id it has seen, so an
// event delivered twice (by the sweeper and a client's retry) is applied once.
import type { Logger } from '../config/logger.js';
import type { Db } from '../db/client.js';
import { unansweredPeer } from './faults.js';
import type { JourneyService } from './journeys.js';

export interface SweeperOptions {
  /** Time between sweeps while all is well. */
  intervalMs: number;
  /** An event is swept once it has waited this long (the request that recorded it may still be delivering it). */
  afterMs: number;
  /** While a peer is down, the interval doubles up to this (default twelve intervals). */
  maxIntervalMs?: number;
  /** Events per sweep, oldest first. */
  batch?: number;
}

export interface Sweeper {
  /** One pass now; the number of events delivered. Throws when a peer is down. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startEventSweeper(deps: { db: Db; service: JourneyService; logger: Logger }, o: SweeperOptions): Sweeper {
  const { db, service, logger } = deps;
  const maxIntervalMs = o.maxIntervalMs ?? o.intervalMs * 12;
  const batch = o.batch ?? 100;
  let interval = o.intervalMs;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const sweep = async (): Promise<number> => {
    const due = await db.inboundEvent.findMany({
      where: { deliveredAt: null, receivedAt: { lt: new Date(Date.now() - o.afterMs) } },
      orderBy: { receivedAt: 'asc' },
      take: batch,
      select: { eventId: true },
    });
    let delivered = 0;
    for (const { eventId } of due) {
      if (stopped) break;
      try {
        if ((await service.deliverRecorded(eventId)) !== undefined) delivered++;
      } catch (err) {
        if (unansweredPeer(err)) throw err; // the rest would fail the same way: back off
        // This event cannot be delivered for a reason of its own; the others still can. (The id is the client's
        // key, not personal data.)
        logger.error({ eventId, err: err instanceof Error ? err.message : String(err) }, 'recorded event could not be delivered');
      }
    }
    return delivered;
  };

  const tick = () => {
    running = sweep()
      .then(
        (n) => {
          if (n) logger.info({ delivered: n }, 'delivered recorded events');
          interval = o.intervalMs;
        },
        (err: unknown) => {
          const peer = unansweredPeer(err);
          interval = Math.min(interval * 2, maxIntervalMs);
          if (peer) logger.warn({ peer, retryInMs: interval }, 'event sweep waits for a peer');
          else logger.error({ err: err instanceof Error ? err.message : String(err), retryInMs: interval }, 'event sweep failed');
        },
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, interval).unref();
      });
  };
  timer = setTimeout(tick, interval).unref();

  return {
    sweep,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
