// Migrations of running journeys from one version of their definition to another. A dry run maps every journey in
// scope (from the read model: its stage and the steps it waits at) with the engine's own rules (engine/migrate.ts) and
// refuses the whole request when one cannot move. Applying it stores the journeys it takes and starts a small workflow
// (workflows/migration.ts) that signals them at a controlled pace; each journey moves itself at its next safe point
// and answers in its log, so progress is exact and a crash resumes where it stopped. One journey never holds the others
// up: what cannot be asked is failed with its reason, what is not answered yet (or not reachable now) goes behind the
// others for a later pass, a bounded number of times; and an answer that comes after its journey was counted failed
// still counts (the progress reads the journeys' logs again).
import { type Client, QueryNotRegisteredError, type WorkflowExecutionStatusName, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { JourneyDefinition } from '../engine/definition.js';
import type { DurationLimits } from '../engine/duration.js';
import type { JourneyState } from '../engine/engine.js';
import { checkMap, migrateState, type MigrationMap, type MigrationRefusal, type Move, planMove } from '../engine/migrate.js';
import { type Db, Prisma } from '../db/client.js';
import type { journeyMigrationWorkflow, MigrationWorkflowInput } from '../workflows/migration.js';
import { migrateJourneySignal, migrationLogKey, stateQuery } from '../workflows/messages.js';
import { checkFourEyes, type DefinitionStore } from './definitions.js';
import { isUniqueViolation } from '../db/unique.js';
import { Conflict, conflict, notFound, Unavailable, Unprocessable } from './errors.js';
import { classifyFault } from './faults.js';

/** At most this many journeys in one migration (a bigger one is split by `where`). */
export const MAX_MIGRATION_JOURNEYS = 10_000;
/** A dry run lists at most this many journeys (all of them are checked). */
export const DRY_RUN_LISTED = 1_000;
/** How long one pass waits for a journey's answer before going on to the next (the journey is asked again later). */
const ANSWER_TIMEOUT_MS = 30_000;
const ANSWER_POLL_MS = 200;
/** Passes a journey gets (no answer yet, Temporal not answering) before it is counted failed. */
const MAX_ATTEMPTS = 5;
/** A batch takes no new journey after this long, well inside its activity's timeout (one journey takes up to
 * `ANSWER_TIMEOUT_MS` more): the workflow calls again for the rest. */
const BATCH_BUDGET_MS = 5 * 60_000;
/** Longest reason stored for a journey (an error's message is cut). */
const REASON_MAX = 300;
/** A running migration whose workflow Temporal does not know is left alone this long after it was stored: `apply`
 * stores it first and starts its workflow right after, so a younger one may be in that window. */
const START_GRACE_MS = 60_000;
/** A workflow in one of these will never run its migration's last activity. */
const CLOSED = new Set<WorkflowExecutionStatusName>(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

const ref = z.string().min(1).max(200);
export const MigrationBody = z
  .object({
    fromVersion: z.number().int().min(1),
    toVersion: z.number().int().min(1),
    /** Old stage keys and step refs (`id` or path) to new ones; whatever is not named maps to the same key, id or path. */
    map: z
      .object({
        stages: z.record(ref, ref).optional(),
        steps: z.record(ref, ref).optional(),
      })
      .strict()
      .refine((m) => Object.keys(m.stages ?? {}).length + Object.keys(m.steps ?? {}).length <= 1000, { message: 'at most 1000 entries' })
      .default({}),
    /** Only the running journeys in this stage, of customers in this segment. */
    where: z
      .object({ stage: z.string().min(1).max(64).optional(), segment: z.string().min(1).max(64).optional() })
      .strict()
      .default({}),
    dryRun: z.boolean(),
    /** How fast the journeys are signalled: `batchSize` of them, then a pause of `pauseMs`. */
    pace: z
      .object({ batchSize: z.number().int().min(1).max(200).default(20), pauseMs: z.number().int().min(0).max(60_000).default(1_000) })
      .strict()
      .default({ batchSize: 20, pauseMs: 1_000 }),
  })
  .strict()
  .refine((b) => b.fromVersion !== b.toVersion, { message: 'fromVersion and toVersion are the same version', path: ['toVersion'] });
export type MigrationBody = z.infer<typeof MigrationBody>;

export interface PlannedJourney extends Move {
  workflowId: string;
}

export interface MigrationPlan {
  journeyKey: string;
  fromVersion: number;
  toVersion: number;
  total: number;
  journeys: PlannedJourney[];
  /** More journeys than listed (all were checked). */
  truncated: boolean;
}

export interface MigrationProgress {
  migrationId: string;
  journeyKey: string;
  fromVersion: number;
  toVersion: number;
  status: string;
  total: number;
  pending: number;
  migrated: number;
  skipped: { count: number; reasons: { reason: string; count: number }[] };
  failed: number;
  createdBy: string;
  createdAt: Date;
  finishedAt: Date | null;
}

/** A journey's outcome; `pending`: it did not answer in this pass (asked again in a later one). */
type Outcome = { status: 'migrated' | 'skipped' | 'failed' | 'pending'; reason?: string };

export interface MigrationDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  definitions: DefinitionStore;
  /** The pace's bounds (defaults above); tests shorten them. */
  answerTimeoutMs?: number;
  maxAttempts?: number;
  batchBudgetMs?: number;
  /** How long a stored migration whose workflow Temporal does not know is taken to be starting (default 60 s). */
  startGraceMs?: number;
}

/** What a batch gets from its activity: a heartbeat, and the signal of its cancellation. */
export interface BatchContext {
  heartbeat(): void;
  signal?: AbortSignal;
}

const cut = (text: string) => (text.length > REASON_MAX ? `${text.slice(0, REASON_MAX - 1)}…` : text);
const messageOf = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
/** The journey-log answer as an outcome. */
function answered(answer: { kind: string; data: Prisma.JsonValue }): Outcome {
  if (answer.kind === 'migration') return { status: 'migrated' };
  const d = (answer.data ?? {}) as { code?: string; message?: string };
  return { status: 'skipped', reason: cut(`${d.code ?? 'refused'}: ${d.message ?? ''}`) };
}

/** A refusal as an error detail: `path` names the step or stage it is about. */
const refusalDetail = (e: MigrationRefusal) => ({
  path: e.step !== undefined ? `steps.${e.step}` : e.stage !== undefined ? `stages.${e.stage}` : 'map',
  message: e.message,
  code: e.code,
});

export const migrationWorkflowId = (journeyKey: string, migrationId: string) => `migration:${journeyKey}:${migrationId}`;

export class MigrationService {
  constructor(private readonly deps: MigrationDeps) {}

  private get db() {
    return this.deps.db;
  }

  /** The duration limits a start is held to: the parameters a journey carries to the new version must keep them. */
  private get limits(): DurationLimits {
    return this.deps.definitions.durationLimits;
  }

  /** Where each running journey in scope would land; 422 naming the step and the reason when one cannot move. */
  async plan(journeyKey: string, body: MigrationBody): Promise<MigrationPlan> {
    const journeys = await this.check(journeyKey, body);
    return {
      journeyKey,
      fromVersion: body.fromVersion,
      toVersion: body.toVersion,
      total: journeys.length,
      journeys: journeys.slice(0, DRY_RUN_LISTED),
      truncated: journeys.length > DRY_RUN_LISTED,
    };
  }

  /** Every running journey in scope with where it lands, or the first refusal. */
  private async check(journeyKey: string, body: MigrationBody): Promise<PlannedJourney[]> {
    const from = await this.deps.definitions.get(journeyKey, body.fromVersion);
    const to = await this.deps.definitions.get(journeyKey, body.toVersion);
    if (to.status !== 'published') throw conflict('not_published', `${journeyKey}@${body.toVersion} is ${to.status}; journeys move only to a published version`);
    const map: MigrationMap = body.map;
    const bad = checkMap(from.definition, to.definition, map);
    if (bad) throw new Unprocessable(bad.code, bad.message, [refusalDetail(bad)]);
    const rows = await this.db.journey.findMany({
      where: {
        journeyKey,
        version: body.fromVersion,
        status: 'running',
        ...(body.where.stage !== undefined ? { stage: body.where.stage } : {}),
        ...(body.where.segment !== undefined ? { customer: { segment: body.where.segment } } : {}),
      },
      select: { workflowId: true, stage: true, waiting: true, params: true },
      orderBy: { workflowId: 'asc' },
      take: MAX_MIGRATION_JOURNEYS + 1,
    });
    if (rows.length > MAX_MIGRATION_JOURNEYS)
      throw new Unprocessable('migration_too_large', `more than ${MAX_MIGRATION_JOURNEYS} running journeys in scope: narrow it with "where" (stage, segment)`);
    const journeys: PlannedJourney[] = [];
    for (const row of rows) {
      const params = row.params !== null && typeof row.params === 'object' && !Array.isArray(row.params) ? row.params : {};
      const r = planMove(from.definition, to.definition, map, { stage: row.stage, waiting: row.waiting, params }, { limits: this.limits });
      if (!r.ok) throw new Unprocessable(r.error.code, `${row.workflowId}: ${r.error.message}`, [{ ...refusalDetail(r.error), workflowId: row.workflowId }]);
      journeys.push({ workflowId: row.workflowId, ...r.move });
    }
    return journeys;
  }

  /**
   * Applies a migration: the same checks as the dry run, four-eyes (whoever drafted the target version does not move
   * running customers onto it), then the journeys it takes are stored and its workflow started.
   */
  async apply(journeyKey: string, body: MigrationBody, by: string): Promise<{ migrationId: string; total: number; workflowId: string }> {
    const to = await this.deps.definitions.get(journeyKey, body.toVersion);
    checkFourEyes(`journey definition ${journeyKey}@${body.toVersion}`, to.createdBy, by);
    await this.refuseIfRunning(journeyKey, body.fromVersion);
    const all = await this.check(journeyKey, body);
    const migrationId = randomUUID();
    try {
      await this.insert(migrationId, journeyKey, body, by, all);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Two applies at the same instant both passed the check above: the partial unique index on running migrations
      // (journey_migrations_one_running_idx) lets one insert, and the other is refused like the check would have,
      // naming the winner. The winner may have finished already (it took no journey): refused all the same, never
      // the index's raw error (a 500).
      await this.refuseIfRunning(journeyKey, body.fromVersion);
      throw conflict('migration_in_progress', `another migration of ${journeyKey} from version ${body.fromVersion} was applied at the same time; apply again once it has finished`);
    }
    const workflowId = migrationWorkflowId(journeyKey, migrationId);
    const input: MigrationWorkflowInput = { migrationId, batchSize: body.pace.batchSize, pauseMs: body.pace.pauseMs };
    try {
      await this.deps.temporal.workflow.start<typeof journeyMigrationWorkflow>('journeyMigrationWorkflow', { taskQueue: this.deps.taskQueue, workflowId, args: [input] });
    } catch (err) {
      // Not left "running" with no workflow to run it: the migration and its journeys are closed as failed (a workflow
      // that did start after all finds it failed and moves nothing), and the caller may apply again.
      await this.abandon(migrationId, cut(`not_started: ${messageOf(err)}`));
      throw classifyFault(err) ?? err;
    }
    return { migrationId, total: all.length, workflowId };
  }

  /**
   * One migration of a key's journeys on one version at a time: while one runs, a second would signal the same
   * journeys and count the first one's moves as its own. 409 `migration_in_progress` naming the running one (its
   * progress says when it is done). A migration from another version of the key may run meanwhile: it takes other
   * journeys.
   *
   * A migration is `running` until its workflow's last activity says otherwise; a workflow that failed, timed out or
   * was terminated never says so, and its migration would block the key and version for good. So the running one's
   * workflow is looked up: closed (completed, failed, cancelled, terminated, timed out), or unknown to Temporal once
   * the start's window (`START_GRACE_MS`) has passed, its migration is closed as failed, like one whose workflow could
   * not be started, and this apply goes on.
   */
  private async refuseIfRunning(journeyKey: string, fromVersion: number): Promise<void> {
    const running = await this.db.journeyMigration.findFirst({
      where: { journeyKey, fromVersion, status: 'running' },
      select: { id: true, toVersion: true, createdAt: true },
    });
    if (!running) return;
    const workflowId = migrationWorkflowId(journeyKey, running.id);
    const gone = await this.workflowGone(workflowId, running.createdAt);
    if (gone) {
      await this.abandon(running.id, cut(`abandoned: ${gone}`));
      return;
    }
    throw new Conflict(
      'migration_in_progress',
      `migration ${running.id} of ${journeyKey} from version ${fromVersion} (to ${running.toVersion}) is still running; apply again once it has finished`,
      { migrationId: running.id, workflowId },
    );
  }

  /** Why a running migration's workflow will never finish it (it is closed, or Temporal does not know it long after
   * the migration was stored), or undefined while it may. Temporal not answering is a fault (503): whether the
   * migration still runs is not known. */
  private async workflowGone(workflowId: string, storedAt: Date): Promise<string | undefined> {
    try {
      const status = (await this.deps.temporal.workflow.getHandle(workflowId).describe()).status.name;
      // The latest run's status: a workflow that continued as new shows its new run. Running, paused (an operator may
      // resume it) or a status this client does not know: it may still finish the migration.
      return CLOSED.has(status) ? `its workflow ended ${status.toLowerCase()} without finishing it` : undefined;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw classifyFault(err) ?? err;
      const grace = this.deps.startGraceMs ?? START_GRACE_MS;
      return Date.now() - storedAt.getTime() > grace ? 'its workflow was never started' : undefined;
    }
  }

  /** Stores a migration, running, and the journeys it takes, in one transaction. */
  private async insert(migrationId: string, journeyKey: string, body: MigrationBody, by: string, all: PlannedJourney[]): Promise<void> {
    await this.db.$transaction([
      this.db.journeyMigration.create({
        data: {
          id: migrationId,
          journeyKey,
          fromVersion: body.fromVersion,
          toVersion: body.toVersion,
          map: body.map as Prisma.InputJsonValue,
          filter: body.where as Prisma.InputJsonValue,
          createdBy: by,
          // This process's clock, in UTC (the column's default, now(), is in the session's zone): `refuseIfRunning`
          // measures the start's window from it.
          createdAt: new Date(),
        },
      }),
      this.db.journeyMigrationItem.createMany({ data: all.map((j) => ({ migrationId, workflowId: j.workflowId })) }),
    ]);
  }

  /** Closes a running migration whose workflow could not be started, or ended without finishing it: failed, with
   * each journey still pending failed for the same reason. One that is not running any more (its workflow finished it
   * meanwhile) is left as it is. */
  private async abandon(migrationId: string, reason: string): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const closed = await tx.journeyMigration.updateMany({ where: { id: migrationId, status: 'running' }, data: { status: 'failed', finishedAt: new Date() } });
      if (closed.count === 0) return;
      await tx.journeyMigrationItem.updateMany({ where: { migrationId, status: 'pending' }, data: { status: 'failed', reason, updatedAt: new Date() } });
    });
  }

  async progress(journeyKey: string, migrationId: string): Promise<MigrationProgress> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: migrationId } });
    if (!m || m.journeyKey !== journeyKey) throw notFound('migration', migrationId);
    await this.reconcile(migrationId);
    const groups = await this.db.journeyMigrationItem.groupBy({ by: ['status', 'reason'], where: { migrationId }, _count: { _all: true } });
    const count = (status: string) => groups.filter((g) => g.status === status).reduce((a, g) => a + g._count._all, 0);
    return {
      migrationId,
      journeyKey,
      fromVersion: m.fromVersion,
      toVersion: m.toVersion,
      status: m.status,
      total: groups.reduce((a, g) => a + g._count._all, 0),
      pending: count('pending'),
      migrated: count('migrated'),
      skipped: {
        count: count('skipped'),
        reasons: groups
          .filter((g) => g.status === 'skipped')
          .map((g) => ({ reason: g.reason ?? 'unknown', count: g._count._all }))
          .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      },
      failed: count('failed'),
      createdBy: m.createdBy,
      createdAt: m.createdAt,
      finishedAt: m.finishedAt,
    };
  }

  // ---- the migration workflow's activities ----------------------------------------------------------------------

  /** Moves up to `limit` pending journeys of the migration, one after the other, each outcome stored as it comes (a
   * crash loses none); answers how many are still pending. The journeys tried fewest times go first, so one that is
   * not answering yet, or that Temporal cannot reach, waits behind the others. It takes no new journey once its time
   * budget is spent, and stops at a journey's boundary when its activity is cancelled. */
  async runBatch(input: { migrationId: string; limit: number }, ctx: BatchContext): Promise<{ remaining: number }> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: input.migrationId } });
    if (!m) throw notFound('migration', input.migrationId);
    // A migration whose start failed (or that was closed) moves nothing, even when its workflow did start.
    if (m.status !== 'running') return { remaining: 0 };
    const from = (await this.deps.definitions.get(m.journeyKey, m.fromVersion)).definition;
    const to = (await this.deps.definitions.get(m.journeyKey, m.toVersion)).definition;
    const maxAttempts = this.deps.maxAttempts ?? MAX_ATTEMPTS;
    const until = Date.now() + (this.deps.batchBudgetMs ?? BATCH_BUDGET_MS);
    const items = await this.db.journeyMigrationItem.findMany({
      where: { migrationId: m.id, status: 'pending' },
      orderBy: [{ attempts: 'asc' }, { workflowId: 'asc' }],
      take: input.limit,
    });
    for (const item of items) {
      if (Date.now() >= until) break;
      ctx.signal?.throwIfAborted();
      const store = (o: Outcome, attempts: number) =>
        this.db.journeyMigrationItem.update({
          where: { migrationId_workflowId: { migrationId: m.id, workflowId: item.workflowId } },
          data: { status: o.status, reason: o.reason ?? null, attempts, updatedAt: new Date() },
        });
      let outcome: Outcome;
      try {
        outcome = await this.migrateOne(m.id, from, to, m.map as MigrationMap, item.workflowId, ctx);
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const fault = err instanceof Unavailable ? err : classifyFault(err);
        // Asking this journey fails for a reason trying again will not change: it fails, the others go on.
        if (fault === undefined) outcome = { status: 'failed', reason: cut(`error: ${messageOf(err)}`) };
        else {
          // Temporal (or the database) is not answering: the activity retries with its backoff, this journey after the
          // others, until its last pass.
          const unavailable: Outcome = { status: 'pending', reason: cut(`unavailable: ${fault.message}`) };
          if (item.attempts + 1 >= maxAttempts) outcome = unavailable;
          else {
            await store(unavailable, item.attempts + 1);
            throw err;
          }
        }
      }
      // A pass without an answer (or with Temporal not answering) counts; the last one fails the journey.
      if (outcome.status === 'pending') {
        const attempts = item.attempts + 1;
        await store(attempts < maxAttempts ? outcome : { status: 'failed', reason: outcome.reason ?? 'no_answer' }, attempts);
      } else await store(outcome, item.attempts);
      ctx.heartbeat();
    }
    return { remaining: await this.db.journeyMigrationItem.count({ where: { migrationId: m.id, status: 'pending' } }) };
  }

  async finish(migrationId: string): Promise<MigrationProgress> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: migrationId } });
    if (!m) throw notFound('migration', migrationId);
    await this.db.journeyMigration.updateMany({ where: { id: migrationId, status: 'running' }, data: { status: 'completed', finishedAt: new Date() } });
    return this.progress(m.journeyKey, migrationId);
  }

  /** Journeys counted failed for want of an answer that have answered since (the signal waited in the journey, which
   * moved later): their answer counts. */
  private async reconcile(migrationId: string): Promise<void> {
    const unanswered = await this.db.journeyMigrationItem.findMany({
      where: { migrationId, status: 'failed', reason: { startsWith: 'no_answer' } },
      select: { workflowId: true },
      take: MAX_MIGRATION_JOURNEYS,
    });
    if (unanswered.length === 0) return;
    const keys = new Map(unanswered.map((i) => [migrationLogKey(i.workflowId, migrationId), i.workflowId]));
    const answers = await this.db.journeyLogEntry.findMany({ where: { idempotencyKey: { in: [...keys.keys()] } }, select: { idempotencyKey: true, kind: true, data: true } });
    for (const a of answers) {
      const o = answered(a);
      await this.db.journeyMigrationItem.updateMany({
        where: { migrationId, workflowId: keys.get(a.idempotencyKey)!, status: 'failed' },
        data: { status: o.status, reason: o.reason ?? null, updatedAt: new Date() },
      });
    }
  }

  /** One journey: its answer if it gave one already (an earlier pass), else checked against its live state, signalled,
   * and its answer awaited in its log for one pass. Safe to repeat: its answer to the same migration is written once.
   * Only that answer counts it migrated: a journey found on the target version already (another migration moved it,
   * the read model lagging behind) is skipped `already_on_target`. It is signalled all the same, and its answer
   * decides: an earlier pass of this migration may have moved it, its answer not yet in the log (the journey answers
   * its signals in order, so this migration's first answer is the one kept); otherwise it refuses the second
   * signal, and the refusal of a journey on the target version is `already_on_target`. */
  private async migrateOne(migrationId: string, from: JourneyDefinition, to: JourneyDefinition, map: MigrationMap, workflowId: string, ctx: BatchContext): Promise<Outcome> {
    const key = migrationLogKey(workflowId, migrationId);
    const answer = () => this.db.journeyLogEntry.findUnique({ where: { idempotencyKey: key }, select: { kind: true, data: true } });
    const earlier = await answer();
    if (earlier) return answered(earlier);
    const handle = this.deps.temporal.workflow.getHandle(workflowId);
    const running = async () => {
      try {
        return (await handle.describe()).status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    };
    if (!(await running())) return { status: 'skipped', reason: 'journey_ended' };
    let state: JourneyState;
    try {
      state = await handle.query(stateQuery);
    } catch (err) {
      if (err instanceof QueryNotRegisteredError || classifyFault(err)) throw err;
      // A running journey that does not answer its state query has no worker taking its tasks now (none polls its
      // queue, or its task fails): Temporal answers that by a deadline or at once, depending on what it knows of the
      // queue's pollers. Either way the worker is down, which passes: try again later, like any peer not answering.
      throw new Unavailable('unavailable', `the journey's worker does not answer (${messageOf(err)})`);
    }
    if (state.status !== 'running') return { status: 'skipped', reason: 'journey_ended' };
    const onTarget = state.version === to.version;
    if (!onTarget) {
      if (state.version !== from.version) return { status: 'skipped', reason: `version_changed: the journey runs version ${state.version}` };
      const check = migrateState(from, to, state, map, { limits: this.limits });
      if (!check.ok) return { status: 'skipped', reason: cut(`${check.error.code}: ${check.error.message}`) };
    }
    /** A refusal because the journey runs another version, when that version is the target: moved by someone else. */
    const outcome = async (a: { kind: string; data: Prisma.JsonValue }): Promise<Outcome> => {
      const o = answered(a);
      if (a.kind !== 'migration_refused' || (a.data as { code?: string } | null)?.code !== 'migration_mismatch') return o;
      const now = onTarget ? state : await handle.query(stateQuery).catch(() => undefined);
      return now?.version === to.version ? { status: 'skipped', reason: `already_on_target: the journey already runs version ${to.version}` } : o;
    };
    try {
      await handle.signal(migrateJourneySignal, { migrationId, fromVersion: from.version, definition: to, map, limits: this.limits });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { status: 'skipped', reason: 'journey_ended' };
      throw err;
    }
    const deadline = Date.now() + (this.deps.answerTimeoutMs ?? ANSWER_TIMEOUT_MS);
    while (Date.now() < deadline) {
      const a = await answer();
      if (a) return outcome(a);
      if (!(await running())) return { status: 'skipped', reason: 'journey_ended' };
      ctx.heartbeat();
      ctx.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, ANSWER_POLL_MS));
    }
    // The signal waits in the journey (a busy or an older worker): it may still move, so it is asked again later.
    return { status: 'pending', reason: 'no_answer: the journey has not answered yet' };
  }
}
