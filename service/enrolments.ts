// Bulk enrolment of an audience into a journey (a bank's first campaign on its existing customers: hundreds of
// thousands at once). The audience is stored first, one row per customer (a list of ids given page by page, or a
// segment filter resolved in SQL); then a small workflow (workflows/enrolment.ts) starts the journeys at the
// enrolment's rate, in batches, each batch through the pieces of the API's own start (JourneyService: the same
// workflow ids, entry and re-entry rules, holdout draw, the one creator of the journey row), taken for many customers
// at once: one read of the batch's customers, one of their journeys, one write per chunk of rows, then the workflow
// starts side by side. Every outcome is stored per customer, so progress is exact and a crash resumes where it
// stopped; a journey row carries the enrolment that created it, so a start the crash interrupted counts as the
// enrolment's own, never as "already running".
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Db, Prisma } from '../db/client.js';
import type { EnrolmentWorkflowInput, enrolmentWorkflow } from '../workflows/enrolment.js';
import { controlEnrolmentSignal, type EnrolmentControl, enrolmentWorkflowId } from '../workflows/messages.js';
import type { DefinitionStore } from './definitions.js';
import { unansweredPeer } from './faults.js';
import { conflict, DomainError, Invalid, NotFound, notFound, Unprocessable } from './errors.js';
import { type BegunStart, checkParams, type JourneyService, type ResolvedStart, type StartPlan } from './journeys.js';
import { id } from './schemas.js';

/** Customer ids in one request (the first page or an appended one): ≤ 10 000 ids of ≤ 128 characters fit the body
 * limit of the enrolment routes (api/app.ts). */
export const MAX_PAGE_IDS = 10_000;
/** Customers in one enrolment (a bigger audience is several enrolments). */
export const MAX_ENROLMENT_CUSTOMERS = 1_000_000;
/** Workflow starts in flight at once inside one batch (config ENROLMENT_START_CONCURRENCY): a start is one Temporal
 * call and no database connection, so it is Temporal's capacity that bounds it. */
export const DEFAULT_START_CONCURRENCY = 64;
/** A start Temporal does not answer in time is made again, after 250 ms, 500 ms, 1 s…, this many times in all. */
const START_ATTEMPTS = 5;
const START_RETRY_MS = 250;

export const ENROLMENT_STATUSES = ['open', 'running', 'paused', 'completed', 'cancelled'] as const;
export type EnrolmentStatus = (typeof ENROLMENT_STATUSES)[number];

const Filter = z
  .object({ segment: z.string().min(1).max(64).optional(), rmId: z.string().min(1).max(128).optional() })
  .strict()
  .refine((f) => f.segment !== undefined || f.rmId !== undefined, { message: 'name a segment, an rmId or both' });

export const EnrolmentBody = z
  .object({
    journeyKey: z.string().min(1).max(64),
    /** The params every journey starts with (the journey's declared params). */
    params: z.record(z.string(), z.unknown()).optional(),
    /** The first (or only) page of customer ids. */
    customers: z.array(id).min(1).max(MAX_PAGE_IDS).optional(),
    /** Or: every customer (not erased) in this segment and/or of this RM, resolved in SQL when the enrolment is made. */
    filter: Filter.optional(),
    /** Journeys started per second (default 50). */
    ratePerSecond: z.number().int().min(1).max(2_000).default(50),
    /** Start at once (default), or wait for more pages (`POST …/customers`) and `POST …/start`. A filter starts at once. */
    start: z.boolean().default(true),
  })
  .strict()
  .refine((b) => (b.customers === undefined) !== (b.filter === undefined), { message: 'give either "customers" or "filter"', path: ['customers'] })
  .refine((b) => b.filter === undefined || b.start, { message: 'an enrolment by filter starts at once', path: ['start'] });
export type EnrolmentBody = z.infer<typeof EnrolmentBody>;

export const EnrolmentPage = z.object({ customers: z.array(id).min(1).max(MAX_PAGE_IDS) }).strict();
export const EnrolmentListQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

export interface EnrolmentProgress {
  id: string;
  journeyKey: string;
  status: EnrolmentStatus;
  ratePerSecond: number;
  filter: { segment?: string; rmId?: string } | null;
  total: number;
  pending: number;
  started: number;
  /** Customers not started, by reason: `already_running`, `already_entered`, `reentry_cooldown`, `unknown_customer`… */
  skipped: Record<string, number>;
  failed: number;
  /** Failures by error code. */
  failures: Record<string, number>;
  createdBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface EnrolmentDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  definitions: DefinitionStore;
  journeys: JourneyService;
  /** Workflow starts in flight at once (default `DEFAULT_START_CONCURRENCY`). */
  startConcurrency?: number;
}

type Outcome = { status: 'started' | 'skipped' | 'failed'; reason: string | null };
type Counts = { status: string; reason: string | null; n: number };

/** Customers per activity call: about a second's worth at the rate, between 10 and 500. */
export const batchSizeFor = (ratePerSecond: number) => Math.min(500, Math.max(10, ratePerSecond));

export class EnrolmentService {
  constructor(private readonly deps: EnrolmentDeps) {}

  private get db() {
    return this.deps.db;
  }

  /**
   * Makes an enrolment: the journey must exist, be started through the API, and take the params; its customers are
   * stored (a filter is resolved here, in SQL). It starts at once unless `start: false` (more pages to come).
   */
  async create(body: EnrolmentBody, by: string): Promise<EnrolmentProgress> {
    const stored = await this.deps.definitions.latestPublished(body.journeyKey);
    if (!stored) throw notFound('journey', body.journeyKey);
    if (!stored.definition.entry.api) throw conflict('entry_not_allowed', `journey "${body.journeyKey}" is not started through the API`);
    const params = checkParams(stored.definition, body.params ?? {}, this.deps.definitions.durationLimits);
    const enrolmentId = randomUUID();
    await this.db.$transaction(async (tx) => {
      await tx.enrolment.create({
        data: {
          id: enrolmentId,
          journeyKey: body.journeyKey,
          params: params as Prisma.InputJsonValue,
          ...(body.filter ? { filter: body.filter as Prisma.InputJsonValue } : {}),
          ratePerSecond: body.ratePerSecond,
          createdBy: by,
        },
      });
      if (body.customers) await insertPage(tx, enrolmentId, body.customers, 0);
      else {
        const f = body.filter!;
        // The audience as it is now, in id order; one more than allowed tells an audience too large.
        const n = await tx.$executeRaw`
          INSERT INTO enrolment_items (enrolment_id, customer_id, seq)
          SELECT ${enrolmentId}, id, (row_number() OVER (ORDER BY id))::int FROM (
            SELECT id FROM customers
            WHERE erased_at IS NULL
              AND (${f.segment ?? null}::text IS NULL OR segment = ${f.segment ?? null})
              AND (${f.rmId ?? null}::text IS NULL OR rm_id = ${f.rmId ?? null})
            ORDER BY id LIMIT ${MAX_ENROLMENT_CUSTOMERS + 1}
          ) audience`;
        if (n > MAX_ENROLMENT_CUSTOMERS) throw tooLarge();
        if (n === 0) throw new Invalid('empty_audience', 'no customer matches the filter');
      }
    });
    if (body.start) return this.start(enrolmentId);
    return this.progress(enrolmentId);
  }

  /** Appends a page of customer ids to an enrolment that has not started; ids already in it are counted once. */
  async addCustomers(enrolmentId: string, customers: string[]): Promise<{ id: string; added: number; total: number }> {
    return this.db.$transaction(async (tx) => {
      const locked = await tx.$queryRaw<{ status: string }[]>`SELECT status FROM enrolments WHERE id = ${enrolmentId} FOR UPDATE`;
      if (locked.length === 0) throw notFound('enrolment', enrolmentId);
      if (locked[0]!.status !== 'open') throw conflict('enrolment_started', `enrolment "${enrolmentId}" is ${locked[0]!.status}: customers are added before it starts`);
      const [{ total, last }] = (await tx.$queryRaw<{ total: number; last: number }[]>`
        SELECT count(*)::int AS total, coalesce(max(seq), 0)::int AS last FROM enrolment_items WHERE enrolment_id = ${enrolmentId}`) as [{ total: number; last: number }];
      const added = await insertPage(tx, enrolmentId, customers, last);
      if (total + added > MAX_ENROLMENT_CUSTOMERS) throw tooLarge(); // the transaction takes the page back
      return { id: enrolmentId, added, total: total + added };
    });
  }

  /** Starts an open enrolment's workflow; again on a running one, makes sure its workflow runs (a crash between the
   * status and the start); on a finished one, answers its progress. */
  async start(enrolmentId: string): Promise<EnrolmentProgress> {
    const e = await this.db.enrolment.findUnique({ where: { id: enrolmentId } });
    if (!e) throw notFound('enrolment', enrolmentId);
    if (e.status === 'open') {
      const pending = await this.db.enrolmentItem.count({ where: { enrolmentId } });
      if (pending === 0) throw new Invalid('empty_audience', 'the enrolment has no customers');
      await this.db.enrolment.updateMany({ where: { id: enrolmentId, status: 'open' }, data: { status: 'running', startedAt: new Date() } });
    } else if (e.status !== 'running' && e.status !== 'paused') return this.progress(enrolmentId);
    const input: EnrolmentWorkflowInput = { enrolmentId, batchSize: batchSizeFor(e.ratePerSecond), ratePerSecond: e.ratePerSecond };
    try {
      await this.deps.temporal.workflow.start<typeof enrolmentWorkflow>('enrolmentWorkflow', {
        taskQueue: this.deps.taskQueue,
        workflowId: enrolmentWorkflowId(enrolmentId),
        args: [input],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return this.progress(enrolmentId);
  }

  /** Pause, resume or cancel. An open enrolment can only be cancelled (nothing runs yet); a finished one refuses. */
  async control(enrolmentId: string, action: EnrolmentControl): Promise<EnrolmentProgress> {
    const e = await this.db.enrolment.findUnique({ where: { id: enrolmentId } });
    if (!e) throw notFound('enrolment', enrolmentId);
    if (e.status === 'open') {
      if (action !== 'cancel') throw conflict('enrolment_not_started', `enrolment "${enrolmentId}" has not started`);
      // Nothing runs yet: the API closes it (the workflow would be its writer from the start on).
      const n = await this.db.enrolment.updateMany({ where: { id: enrolmentId, status: 'open' }, data: { status: 'cancelled', finishedAt: new Date() } });
      if (n.count === 1) return this.progress(enrolmentId);
      return this.control(enrolmentId, action); // it started meanwhile
    }
    if (e.status === 'completed' || e.status === 'cancelled') throw conflict('enrolment_finished', `enrolment "${enrolmentId}" is ${e.status}`);
    try {
      await this.deps.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId)).signal(controlEnrolmentSignal, { action });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw conflict('enrolment_finished', `enrolment "${enrolmentId}" has finished`);
      throw err;
    }
    return this.progress(enrolmentId);
  }

  async progress(enrolmentId: string): Promise<EnrolmentProgress> {
    const e = await this.db.enrolment.findUnique({ where: { id: enrolmentId } });
    if (!e) throw notFound('enrolment', enrolmentId);
    return shape(e, await this.counts([enrolmentId]));
  }

  /** The newest enrolments with their progress (the console's ops page). */
  async list(limit: number): Promise<EnrolmentProgress[]> {
    const rows = await this.db.enrolment.findMany({ orderBy: { createdAt: 'desc' }, take: limit });
    const counts = await this.counts(rows.map((r) => r.id));
    return rows.map((r) =>
      shape(
        r,
        counts.filter((c) => c.enrolmentId === r.id),
      ),
    );
  }

  private async counts(ids: string[]): Promise<(Counts & { enrolmentId: string })[]> {
    if (ids.length === 0) return [];
    const groups = await this.db.enrolmentItem.groupBy({ by: ['enrolmentId', 'status', 'reason'], where: { enrolmentId: { in: ids } }, _count: { _all: true } });
    return groups.map((g) => ({ enrolmentId: g.enrolmentId, status: g.status, reason: g.reason, n: g._count._all }));
  }

  // ---- the enrolment workflow's activities -----------------------------------------------------------------------

  /**
   * Starts up to `limit` pending customers of the enrolment and stores each outcome; answers how many are still pending.
   * The rules are the single start's (JourneyService: `resolveStart`, `planStart`, `beginStart`, `writeStarts`,
   * `launchStart`), taken for the whole batch at once: its customers and their previous journeys are read in one query
   * each, the planned rows are written a chunk at a time (a quarter second's worth at the rate, at most the starts in
   * flight) just ahead of their starts, and the workflow starts run `startConcurrency` at a time, no faster than
   * `ratePerSecond`. A transient failure (Temporal or Postgres away) or a worker shutting down stops taking customers:
   * the rows written for starts not made are removed, the outcomes so far stored, and it throws (the activity is
   * retried; the customers not done are still pending, and a row a failed removal left is this enrolment's own start
   * again).
   */
  async runBatch(input: { enrolmentId: string; limit: number; ratePerSecond: number }, ctx: { heartbeat: () => void; stopping: () => boolean }): Promise<{ remaining: number }> {
    const { journeys } = this.deps;
    const e = await this.db.enrolment.findUnique({ where: { id: input.enrolmentId } });
    if (!e) throw notFound('enrolment', input.enrolmentId);
    const items = await this.db.enrolmentItem.findMany({
      where: { enrolmentId: e.id, status: 'pending' },
      orderBy: { seq: 'asc' },
      take: input.limit,
      select: { customerId: true },
    });
    const customerIds = items.map((i) => i.customerId);
    const outcomes = new Map<string, Outcome>();
    const resolved = await journeys.resolveStart(e.journeyKey, 'enrolment', e.params as Record<string, unknown>).catch((err: unknown) => {
      // The journey itself refuses (unpublished, no longer started through the API, params it no longer takes): every
      // customer of the batch gets that answer, as each start would have given it.
      if (!(err instanceof DomainError) || err.transient) throw err;
      const outcome: Outcome = err instanceof NotFound ? { status: 'failed', reason: 'journey_not_found' } : refusal(err);
      for (const customerId of customerIds) outcomes.set(customerId, outcome);
      return undefined;
    });
    if (resolved) {
      const starts: Extract<StartPlan, { kind: 'start' }>[] = [];
      try {
        for (const [customerId, plan] of await journeys.planStarts(resolved, customerIds, e.id, new Date())) {
          if (plan instanceof DomainError) outcomes.set(customerId, refusal(plan));
          else if (plan.kind === 'existing') outcomes.set(customerId, existing(plan.row, e.id));
          else starts.push(plan);
        }
        await this.launch(e.id, resolved, starts, input.ratePerSecond, ctx, outcomes);
      } catch (err) {
        await this.record(e.id, outcomes);
        throw err;
      }
    }
    await this.record(e.id, outcomes);
    if (ctx.stopping()) throw new Error('the worker is shutting down; the batch goes on elsewhere');
    return { remaining: await this.db.enrolmentItem.count({ where: { enrolmentId: e.id, status: 'pending' } }) };
  }

  /** The starts of a batch (see `runBatch`): their rows a chunk ahead, their workflows `startConcurrency` at a time at
   * the rate; each start made is an outcome. Throws the first fault, after removing the rows of the starts not made. */
  private async launch(
    enrolmentId: string,
    resolved: ResolvedStart,
    plans: Extract<StartPlan, { kind: 'start' }>[],
    ratePerSecond: number,
    ctx: { heartbeat: () => void; stopping: () => boolean },
    outcomes: Map<string, Outcome>,
  ): Promise<void> {
    const { journeys } = this.deps;
    const concurrency = this.deps.startConcurrency ?? DEFAULT_START_CONCURRENCY;
    const chunkSize = Math.max(1, Math.min(concurrency, Math.ceil(ratePerSecond / 4)));
    type Chunk = { starts: BegunStart[]; inserted: Set<string> };
    const chunks: Promise<Chunk>[] = [];
    /** Chunk j's rows, written after chunk j - 1's (in order), each start begun at its write. */
    const written = (j: number): Promise<Chunk> => {
      if (!chunks[j]) {
        const before = j > 0 ? written(j - 1) : Promise.resolve(undefined);
        chunks[j] = before.then(async () => {
          const at = new Date();
          const starts = plans.slice(j * chunkSize, (j + 1) * chunkSize).map((p) => journeys.beginStart(resolved, p, 'enrolment', at));
          return { starts, inserted: await journeys.writeStarts(starts) };
        });
        chunks[j].catch(() => undefined); // awaited where it is used; a prefetched chunk nobody awaits fails quietly
      }
      return chunks[j];
    };
    const launched = new Set<string>();
    const others: string[] = []; // rows a concurrent writer inserted first: whose start it was is read after
    const gapMs = 1000 / ratePerSecond;
    const t0 = Date.now();
    let next = 0;
    let fault: unknown;
    // Starts in flight adapt to what Temporal takes (additive increase, multiplicative decrease): a start it does not
    // answer within the call deadline (an overloaded server) halves them and is made again after a pause (the
    // workflow id makes it idempotent: already started counts), up to START_ATTEMPTS times before it stops the batch.
    let limit = concurrency;
    let inFlight = 0;
    const waiting: (() => void)[] = [];
    const launchAdaptively = async (start: BegunStart) => {
      for (let attempt = 1; ; attempt++) {
        while (inFlight >= Math.floor(limit)) await new Promise<void>((wake) => waiting.push(wake));
        inFlight++;
        try {
          await journeys.launchStart(start);
          limit = Math.min(concurrency, limit + 1 / limit);
          return;
        } catch (err) {
          if (unansweredPeer(err) !== 'temporal' || attempt >= START_ATTEMPTS) throw err;
          limit = Math.max(1, limit / 2);
        } finally {
          inFlight--;
          waiting.shift()?.();
        }
        await sleep(START_RETRY_MS * 2 ** (attempt - 1));
      }
    };
    const lane = async () => {
      for (;;) {
        const i = next++;
        if (i >= plans.length || fault !== undefined || ctx.stopping()) return;
        const wait = t0 + i * gapMs - Date.now();
        if (wait > 0) await sleep(wait);
        if (fault !== undefined || ctx.stopping()) return;
        const j = Math.floor(i / chunkSize);
        try {
          const chunk = await written(j);
          if (j + 1 < Math.ceil(plans.length / chunkSize)) void written(j + 1).catch(() => undefined);
          const start = chunk.starts[i - j * chunkSize]!;
          if (chunk.inserted.has(start.workflowId) || start.ownRetry) {
            await launchAdaptively(start);
            launched.add(start.workflowId);
            outcomes.set(plans[i]!.customerId, { status: 'started', reason: null });
          } else {
            // A row a concurrent writer (the API, another enrolment) inserted first is its start, with its input: not
            // launched here, its outcome read after.
            others.push(start.workflowId);
          }
        } catch (err) {
          fault ??= err;
          return;
        }
        ctx.heartbeat();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, plans.length) }, lane));
    if (fault !== undefined || ctx.stopping()) {
      // No workflow, no row: a row written for a start not made (or failed) must not be listed as running.
      const settled = await Promise.allSettled(chunks);
      const unstarted = settled.flatMap((c) => (c.status === 'fulfilled' ? [...c.value.inserted].filter((id) => !launched.has(id)) : []));
      try {
        await journeys.unwriteStarts(unstarted);
      } catch (err) {
        fault ??= err;
      }
    }
    if (others.length) {
      const customerOf = new Map(plans.map((p) => [p.workflowId, p.customerId]));
      for (const row of await this.db.journey.findMany({ where: { workflowId: { in: others } } })) outcomes.set(customerOf.get(row.workflowId)!, existing(row, enrolmentId));
      // A row gone meanwhile (its writer's start failed) leaves its customer pending, for the next batch.
    }
    if (fault !== undefined) throw fault;
    // The batch takes at least its share of a second at the rate, so batches back to back keep the rate.
    const rest = t0 + plans.length * gapMs - Date.now();
    if (rest > 0) await sleep(rest);
  }

  /** Stores a batch's outcomes: one update per (status, reason). */
  private async record(enrolmentId: string, outcomes: Map<string, Outcome>): Promise<void> {
    const groups = new Map<string, { outcome: Outcome; ids: string[] }>();
    for (const [customerId, o] of outcomes) {
      const key = `${o.status}\u0000${o.reason ?? ''}`;
      const g = groups.get(key) ?? { outcome: o, ids: [] };
      g.ids.push(customerId);
      groups.set(key, g);
    }
    await this.db.$transaction(
      [...groups.values()].map((g) =>
        this.db.enrolmentItem.updateMany({
          where: { enrolmentId, customerId: { in: g.ids }, status: 'pending' },
          data: { status: g.outcome.status, reason: g.outcome.reason },
        }),
      ),
    );
  }

  /**
   * A cancelled enrolment's rows written ahead of starts a crash stopped (their customers still pending; a retried
   * batch would have started them as its own): the rows with no workflow behind them are removed, so they are not
   * listed as running nor answer a later start as an existing journey. A row whose workflow did start stays (the
   * journey runs; the customer is then counted as this enrolment's start).
   */
  private async removeUnstarted(enrolmentId: string): Promise<void> {
    const rows = await this.db.$queryRaw<{ workflowId: string; customerId: string }[]>`
      SELECT j.workflow_id AS "workflowId", j.customer_id AS "customerId"
      FROM enrolment_items i JOIN journeys j ON j.customer_id = i.customer_id AND j.enrolment_id = i.enrolment_id
      WHERE i.enrolment_id = ${enrolmentId} AND i.status = 'pending' AND j.status = 'running'`;
    const unstarted: string[] = [];
    const started: string[] = [];
    for (const row of rows) {
      try {
        await this.deps.temporal.workflow.getHandle(row.workflowId).describe();
        started.push(row.customerId);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        unstarted.push(row.workflowId);
      }
    }
    await this.deps.journeys.unwriteStarts(unstarted);
    if (started.length)
      await this.db.enrolmentItem.updateMany({ where: { enrolmentId, customerId: { in: started }, status: 'pending' }, data: { status: 'started', reason: null } });
  }

  /** The workflow's pause and resume, as the enrolment reads them. */
  async setStatus(enrolmentId: string, status: 'running' | 'paused'): Promise<void> {
    await this.db.enrolment.updateMany({ where: { id: enrolmentId, status: { in: ['running', 'paused'] } }, data: { status } });
  }

  /** Closes the enrolment: `completed` when nobody is pending, `cancelled` when it was cancelled (the pending stay). */
  async finish(enrolmentId: string, cancelled: boolean): Promise<{ started: number; skipped: number; failed: number; pending: number }> {
    if (cancelled) await this.removeUnstarted(enrolmentId);
    await this.db.enrolment.updateMany({
      where: { id: enrolmentId, status: { in: ['running', 'paused'] } },
      data: { status: cancelled ? 'cancelled' : 'completed', finishedAt: new Date() },
    });
    const p = await this.progress(enrolmentId);
    return { started: p.started, skipped: Object.values(p.skipped).reduce((a, n) => a + n, 0), failed: p.failed, pending: p.pending };
  }
}

/** A customer's start refused by a rule: unknown or erased, cooling down after the last journey, the journey not
 * started through the API, are skips with their reason; any other permanent error (params the journey no longer takes)
 * is a failure with its code. A transient error is thrown (the batch is retried). */
function refusal(err: DomainError): Outcome {
  if (err.transient) throw err;
  if (err instanceof NotFound) return { status: 'skipped', reason: 'unknown_customer' };
  if (err.code === 'reentry_cooldown' || err.code === 'entry_not_allowed') return { status: 'skipped', reason: err.code };
  return { status: 'failed', reason: err.code };
}

/** The journey already there: started when it is this enrolment's own (now, or before a crash). */
function existing(row: { enrolmentId: string | null; status: string }, enrolmentId: string): Outcome {
  if (row.enrolmentId === enrolmentId) return { status: 'started', reason: null };
  return { status: 'skipped', reason: row.status === 'running' ? 'already_running' : 'already_entered' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tooLarge = () => new Unprocessable('enrolment_too_large', `an enrolment takes at most ${MAX_ENROLMENT_CUSTOMERS} customers: split the audience into several enrolments`);

/** Inserts a page of ids after `after` in the given order; an id already in the enrolment (or twice in the page) is
 * kept once. Answers how many were added. */
async function insertPage(tx: Prisma.TransactionClient, enrolmentId: string, customers: string[], after: number): Promise<number> {
  return tx.$executeRaw`
    INSERT INTO enrolment_items (enrolment_id, customer_id, seq)
    SELECT ${enrolmentId}, c, ${after}::int + (ord)::int FROM unnest(${customers}::text[]) WITH ORDINALITY AS t(c, ord)
    ON CONFLICT DO NOTHING`;
}

function shape(
  e: {
    id: string;
    journeyKey: string;
    status: string;
    ratePerSecond: number;
    filter: unknown;
    createdBy: string;
    createdAt: Date;
    startedAt: Date | null;
    finishedAt: Date | null;
  },
  counts: Counts[],
): EnrolmentProgress {
  const sum = (status: string) => counts.filter((c) => c.status === status).reduce((a, c) => a + c.n, 0);
  const byReason = (status: string) =>
    Object.fromEntries(
      counts
        .filter((c) => c.status === status)
        .sort((a, b) => b.n - a.n || (a.reason ?? '').localeCompare(b.reason ?? ''))
        .map((c) => [c.reason ?? 'unknown', c.n]),
    );
  return {
    id: e.id,
    journeyKey: e.journeyKey,
    status: e.status as EnrolmentStatus,
    ratePerSecond: e.ratePerSecond,
    filter: (e.filter ?? null) as EnrolmentProgress['filter'],
    total: counts.reduce((a, c) => a + c.n, 0),
    pending: sum('pending'),
    started: sum('started'),
    skipped: byReason('skipped'),
    failed: sum('failed'),
    failures: byReason('failed'),
    createdBy: e.createdBy,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
  };
}
