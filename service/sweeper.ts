// Delivers events that were recorded but not delivered (Temporal was down, or the API stopped, between recording an
// event and signalling its journeys), so an accepted event reaches its journeys without the client having to retry.
// Delivery is the API's own path (JourneyService.deliverRecorded); a journey ignores an event id it has seen, so an
// event delivered twice (by the sweeper and a client's retry) is applied once.
//
// Every API process runs a sweeper. Each pass claims its events first (a lease on the row, taken with FOR UPDATE SKIP
// LOCKED), so two APIs sweeping a backlog share it instead of both signalling every event: an event is claimed by one
// sweeper at a time. What a pass does not get to (it stops, a peer is down, or its claim is near its end) it gives back
// at once; the claims of a process that died lapse after `leaseMs`. A pass takes no new event in the second half of its
// lease: the delivery in hand (its calls have deadlines of seconds) then ends inside the claim, and no other sweeper
// takes an event this one is still delivering.
import type { Logger } from '../config/logger.js';
import type { Db } from '../db/client.js';
import { utc } from '../db/time.js';
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
  /** How long a pass's claim on its events holds if it never gives them back (its process died): another API's
   * sweeper takes them after that (default 5 minutes, longer than a pass of `batch` events takes while all is well).
   * A pass against a slow peer stops taking events at half of it and gives the rest back. */
  leaseMs?: number;
}

export interface Sweeper {
  /** One pass now; the number of events delivered. Throws when a peer is down. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export interface SweeperDeps {
  db: Db;
  service: JourneyService;
  logger: Logger;
  /** The clock (ms since the epoch) that dates claims and spends their lease; tests move it. Default `Date.now`. */
  now?: () => number;
}

export function startEventSweeper(deps: SweeperDeps, o: SweeperOptions): Sweeper {
  const { db, service, logger } = deps;
  const clock = deps.now ?? Date.now;
  const maxIntervalMs = o.maxIntervalMs ?? o.intervalMs * 12;
  const batch = o.batch ?? 100;
  let interval = o.intervalMs;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const leaseMs = o.leaseMs ?? 5 * 60_000;

  /** Claims up to `batch` of the oldest undelivered events no other sweeper holds; answers their ids, oldest first,
   * and until when this pass may take them (half its lease). */
  const claim = async (): Promise<{ ids: string[]; takeUntil: number }> => {
    const now = clock();
    const rows = await db.$queryRaw<{ event_id: string; received_at: Date }[]>`
      WITH due AS (
        SELECT event_id FROM inbound_events
        WHERE delivered_at IS NULL
          AND received_at < ${utc(new Date(now - o.afterMs))}
          AND (sweep_claimed_until IS NULL OR sweep_claimed_until < ${utc(new Date(now))})
        ORDER BY received_at
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE inbound_events e SET sweep_claimed_until = ${utc(new Date(now + leaseMs))}
      FROM due WHERE e.event_id = due.event_id
      RETURNING e.event_id, e.received_at`;
    return { ids: rows.sort((a, b) => a.received_at.getTime() - b.received_at.getTime()).map((r) => r.event_id), takeUntil: now + leaseMs / 2 };
  };
  /** Gives claimed events back (not delivered by this pass): the next pass, here or in another API, takes them. */
  const release = async (eventIds: string[]) => {
    if (eventIds.length) await db.$executeRaw`UPDATE inbound_events SET sweep_claimed_until = NULL WHERE event_id = ANY(${eventIds}::text[]) AND delivered_at IS NULL`;
  };

  const sweep = async (): Promise<number> => {
    const { ids: due, takeUntil } = await claim();
    let delivered = 0;
    let done = 0;
    try {
      for (const eventId of due) {
        // Stopping, or the claim near its end (a slow peer): the rest is given back below, for the next pass.
        if (stopped || clock() >= takeUntil) break;
        try {
          if ((await service.deliverRecorded(eventId)) !== undefined) delivered++;
        } catch (err) {
          if (unansweredPeer(err)) throw err; // the rest would fail the same way: back off
          // This event cannot be delivered for a reason of its own; the others still can. Its claim lapses, so it is
          // tried again after the lease rather than on every pass. (The id is the client's key, not personal data.)
          logger.error({ eventId, err: err instanceof Error ? err.message : String(err) }, 'recorded event could not be delivered');
        }
        done++;
      }
    } finally {
      await release(due.slice(done)).catch((err: unknown) =>
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'swept events not given back; their claim lapses'),
      );
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
