// Migrations of running journeys from one version of their definition to another. A dry run maps every journey in
// scope (from the read model: its stage and the steps it waits at) with the engine's own rules (engine/migrate.ts) and
// refuses the whole request when one cannot move. Applying it stores the journeys it takes and starts a small workflow
// (workflows/migration.ts) that signals them at a controlled pace; each journey moves itself at its next safe point
// and answers in its log, so progress is exact and a crash resumes where it stopped.
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { JourneyDefinition } from '../engine/definition.js';
import type { JourneyState } from '../engine/engine.js';
import { checkMap, migrateState, type MigrationMap, type MigrationRefusal, type Move, planMove } from '../engine/migrate.js';
import { type Db, Prisma } from '../db/client.js';
import type { journeyMigrationWorkflow, MigrationWorkflowInput } from '../workflows/migration.js';
import { migrateJourneySignal, migrationLogKey, stateQuery } from '../workflows/messages.js';
import { checkFourEyes, type DefinitionStore } from './definitions.js';
import { conflict, notFound, Unprocessable } from './errors.js';

/** At most this many journeys in one migration (a bigger one is split by `where`). */
export const MAX_MIGRATION_JOURNEYS = 10_000;
/** A dry run lists at most this many journeys (all of them are checked). */
export const DRY_RUN_LISTED = 1_000;
/** How long the workflow waits for one journey's answer before counting it failed. */
const ANSWER_TIMEOUT_MS = 30_000;
const ANSWER_POLL_MS = 200;

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

type Outcome = { status: 'migrated' | 'skipped' | 'failed'; reason?: string };

export interface MigrationDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  definitions: DefinitionStore;
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
      select: { workflowId: true, stage: true, waiting: true },
      orderBy: { workflowId: 'asc' },
      take: MAX_MIGRATION_JOURNEYS + 1,
    });
    if (rows.length > MAX_MIGRATION_JOURNEYS)
      throw new Unprocessable('migration_too_large', `more than ${MAX_MIGRATION_JOURNEYS} running journeys in scope: narrow it with "where" (stage, segment)`);
    const journeys: PlannedJourney[] = [];
    for (const row of rows) {
      const r = planMove(from.definition, to.definition, map, { stage: row.stage, waiting: row.waiting });
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
    const all = await this.check(journeyKey, body);
    const migrationId = randomUUID();
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
        },
      }),
      this.db.journeyMigrationItem.createMany({ data: all.map((j) => ({ migrationId, workflowId: j.workflowId })) }),
    ]);
    const workflowId = migrationWorkflowId(journeyKey, migrationId);
    const input: MigrationWorkflowInput = { migrationId, batchSize: body.pace.batchSize, pauseMs: body.pace.pauseMs };
    await this.deps.temporal.workflow.start<typeof journeyMigrationWorkflow>('journeyMigrationWorkflow', { taskQueue: this.deps.taskQueue, workflowId, args: [input] });
    return { migrationId, total: all.length, workflowId };
  }

  async progress(journeyKey: string, migrationId: string): Promise<MigrationProgress> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: migrationId } });
    if (!m || m.journeyKey !== journeyKey) throw notFound('migration', migrationId);
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
   * crash loses none); answers how many are still pending. */
  async runBatch(input: { migrationId: string; limit: number }, heartbeat: () => void): Promise<{ remaining: number }> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: input.migrationId } });
    if (!m) throw notFound('migration', input.migrationId);
    const from = (await this.deps.definitions.get(m.journeyKey, m.fromVersion)).definition;
    const to = (await this.deps.definitions.get(m.journeyKey, m.toVersion)).definition;
    const items = await this.db.journeyMigrationItem.findMany({ where: { migrationId: m.id, status: 'pending' }, orderBy: { workflowId: 'asc' }, take: input.limit });
    for (const item of items) {
      const outcome = await this.migrateOne(m.id, from, to, m.map as MigrationMap, item.workflowId, heartbeat);
      await this.db.journeyMigrationItem.update({
        where: { migrationId_workflowId: { migrationId: m.id, workflowId: item.workflowId } },
        data: { status: outcome.status, reason: outcome.reason ?? null, updatedAt: new Date() },
      });
      heartbeat();
    }
    return { remaining: await this.db.journeyMigrationItem.count({ where: { migrationId: m.id, status: 'pending' } }) };
  }

  async finish(migrationId: string): Promise<MigrationProgress> {
    const m = await this.db.journeyMigration.findUnique({ where: { id: migrationId } });
    if (!m) throw notFound('migration', migrationId);
    await this.db.journeyMigration.updateMany({ where: { id: migrationId, status: 'running' }, data: { status: 'completed', finishedAt: new Date() } });
    return this.progress(m.journeyKey, migrationId);
  }

  /** One journey: checked against its live state, signalled, and its answer awaited in its log. Safe to repeat: a
   * journey already on the new version counts as migrated, and its answer to the same migration is written once. */
  private async migrateOne(migrationId: string, from: JourneyDefinition, to: JourneyDefinition, map: MigrationMap, workflowId: string, heartbeat: () => void): Promise<Outcome> {
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
    const state: JourneyState = await handle.query(stateQuery);
    if (state.status !== 'running') return { status: 'skipped', reason: 'journey_ended' };
    if (state.version === to.version) return { status: 'migrated' };
    if (state.version !== from.version) return { status: 'skipped', reason: `version_changed: the journey runs version ${state.version}` };
    const check = migrateState(from, to, state, map);
    if (!check.ok) return { status: 'skipped', reason: `${check.error.code}: ${check.error.message}` };
    try {
      await handle.signal(migrateJourneySignal, { migrationId, fromVersion: from.version, definition: to, map });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { status: 'skipped', reason: 'journey_ended' };
      throw err;
    }
    const key = migrationLogKey(workflowId, migrationId);
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const answer = await this.db.journeyLogEntry.findUnique({ where: { idempotencyKey: key }, select: { kind: true, data: true } });
      if (answer?.kind === 'migration') return { status: 'migrated' };
      if (answer) {
        const d = answer.data as { code?: string; message?: string };
        return { status: 'skipped', reason: `${d.code ?? 'refused'}: ${d.message ?? ''}` };
      }
      if (!(await running())) return { status: 'skipped', reason: 'journey_ended' };
      heartbeat();
      await new Promise((r) => setTimeout(r, ANSWER_POLL_MS));
    }
    return { status: 'failed', reason: 'no_answer: the journey did not answer in time' };
  }
}
