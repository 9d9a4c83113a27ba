// Journey analytics over the read model: the funnel, time in stage, breakpoints, feedback, message outcomes, the lift
// against the control group and the live journey map, each one SQL aggregate (Postgres does the counting, medians
// and percentiles; nothing is loaded row by row). Every figure is about one set of journeys: those of the journey key
// started in the period [from, to), narrowed by version, the customer's segment and an A/B variant; what hangs off
// them (transitions, log entries, messages) is joined by workflow id. The paged journey list for ops and BI is here too.
import { z } from 'zod';
import type { JourneyDefinition } from '../engine/definition.js';
import { stepRef } from '../engine/engine.js';
import { formatPath, WAITING_KINDS, walkSteps } from '../engine/steps.js';
import { type Db, Prisma } from '../db/client.js';
import type { DefinitionStore } from './definitions.js';
import { Invalid, notFound } from './errors.js';
import { id, inStoredRange, StoredInstant, WorkflowId } from './schemas.js';

export const AnalyticsQuery = z
  .object({
    from: StoredInstant.optional(),
    to: StoredInstant.optional(),
    version: z.coerce.number().int().min(1).max(1_000_000).optional(),
    segment: z.string().min(1).max(64).optional(),
    /** An A/B/n variant name, as a `split` step assigned it (any split of the journey). */
    variant: z.string().min(1).max(64).optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), { message: '"from" must be before "to"', path: ['from'] });
export type AnalyticsFilters = z.infer<typeof AnalyticsQuery>;

export const JourneyListQuery = z
  .object({
    journeyKey: z.string().min(1).max(64).optional(),
    stage: z.string().min(1).max(64).optional(),
    status: z.enum(['running', 'completed', 'exited', 'failed']).optional(),
    cohort: z.enum(['treated', 'control']).optional(),
    customerId: id.optional(),
    /** Running journeys with no step waiting — no wait, survey, task or delay (since `waitingSince`): a journey that only a trigger or
     * goal event can still move, or one that nothing will. Journeys whose waits were never recorded (started by a
     * worker older than that record) are not listed. */
    stuck: z.enum(['true']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(1024).optional(),
  })
  .strict();
export type JourneyListFilters = z.infer<typeof JourneyListQuery>;

/** The z value of a two-sided 95 % interval. */
const Z95 = 1.959963984540054;

/** A timestamp column (UTC, without zone) compared with an ISO instant: the instant is read in UTC whatever the session zone. */
const utc = (iso: string) => Prisma.sql`(${iso}::timestamptz AT TIME ZONE 'UTC')`;
const ms = (v: number | null) => (v === null ? null : Math.round(v));

/** 95 % two-proportion (unpooled Wald) interval of p1 − p2; undefined when a group is empty. */
export function liftInterval(treated: { n: number; converted: number }, control: { n: number; converted: number }) {
  if (treated.n === 0 || control.n === 0) return undefined;
  const p1 = treated.converted / treated.n;
  const p2 = control.converted / control.n;
  const se = Math.sqrt((p1 * (1 - p1)) / treated.n + (p2 * (1 - p2)) / control.n);
  const lift = p1 - p2;
  const ci95: [number, number] = [lift - Z95 * se, lift + Z95 * se];
  return { lift, ci95, significant: ci95[0] > 0 || ci95[1] < 0 };
}

interface Cursor {
  s: string;
  w: string;
}
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof c.s === 'string' && inStoredRange(c.s) && WorkflowId.safeParse(c.w).success) return { s: c.s, w: c.w as string };
  } catch {
    // not ours: refused below
  }
  throw new Invalid('invalid_cursor', 'cursor is not one this API gave out');
}

export class Analytics {
  constructor(
    private readonly db: Db,
    private readonly definitions: DefinitionStore,
    /** The time stalls are measured to. */
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The definition the figures are labelled by: the version asked for, else the newest published one (else the newest). */
  private async definition(key: string, version?: number): Promise<JourneyDefinition> {
    if (version !== undefined) return (await this.definitions.get(key, version)).definition;
    const published = await this.definitions.latestPublished(key);
    if (published) return published.definition;
    const newest = await this.db.journeyDefinitionVersion.findFirst({ where: { key }, orderBy: { version: 'desc' }, select: { version: true } });
    if (!newest) throw notFound('journey', key);
    return (await this.definitions.get(key, newest.version)).definition;
  }

  /** Whether the figures count fewer than all the key's journeys (then rows hanging off them are joined to the
   * journeys; all of them, rows are read by their own journey_key, which the database keeps). */
  private narrowed(f: AnalyticsFilters): boolean {
    return f.from !== undefined || f.to !== undefined || f.version !== undefined || f.segment !== undefined || f.variant !== undefined;
  }

  /** The rows of `table` (aliased `alias`) that belong to the journeys the figures count. */
  private ofJourneys(table: 'stage_transitions' | 'messages', alias: 't' | 'm', key: string, f: AnalyticsFilters): Prisma.Sql {
    const t = Prisma.raw(`${table} ${alias}`);
    const a = Prisma.raw(alias);
    return this.narrowed(f) ? Prisma.sql`${t} JOIN (${this.journeys(key, f)}) j ON j.workflow_id = ${a}.workflow_id` : Prisma.sql`${t} WHERE ${a}.journey_key = ${key}`;
  }

  /** The journeys the figures count, as a query (a CTE body). */
  private journeys(key: string, f: AnalyticsFilters): Prisma.Sql {
    const where = [Prisma.sql`j.journey_key = ${key}`];
    if (f.from !== undefined) where.push(Prisma.sql`j.started_at >= ${utc(f.from)}`);
    if (f.to !== undefined) where.push(Prisma.sql`j.started_at < ${utc(f.to)}`);
    if (f.version !== undefined) where.push(Prisma.sql`j.version = ${f.version}`);
    if (f.segment !== undefined) where.push(Prisma.sql`EXISTS (SELECT 1 FROM customers c WHERE c.id = j.customer_id AND c.segment = ${f.segment})`);
    if (f.variant !== undefined)
      where.push(Prisma.sql`EXISTS (SELECT 1 FROM journey_log l WHERE l.workflow_id = j.workflow_id AND l.kind = 'split' AND l.data->>'variant' = ${f.variant})`);
    return Prisma.sql`SELECT j.workflow_id, j.status, j.stage, j.exit_reason, j.ended_at, j.goals, j.cohort, j.waiting, j.waiting_since FROM journeys j WHERE ${Prisma.join(where, ' AND ')}`;
  }

  /**
   * Per stage: the journeys that entered it (once each, however often), are in it now (running), and moved on from it
   * to a later stage of their definition's order (null for the last stage); the time of each visit that is over (until
   * the next stage, or the journey's end), as median and p90 (`percentile_cont`: linear between the two nearest). The
   * per-visit facts (first visit, left at, converted) are kept with each transition by the database (see the
   * migration `analytics_summaries`), so this is one pass over the key's transitions.
   */
  private async stageFigures(key: string, f: AnalyticsFilters, def: JourneyDefinition) {
    const [visits, current] = await Promise.all([
      // The percentiles need the visits sorted by stage: at 100 000 journeys that is ~20 MB, which the default work_mem
      // (4 MB) sorts on disk. This query alone gets the memory for it.
      this.db.$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL work_mem = '32MB'`;
        return tx.$queryRaw<{ stage: string; entered: number; converted: number; visits: number; pct: (number | null)[] | null }[]>`
          SELECT t.to_stage AS stage, count(*) FILTER (WHERE t.first_visit)::int AS entered, count(*) FILTER (WHERE t.first_visit AND t.converted)::int AS converted,
                 count(t.left_at)::int AS visits,
                 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', t.left_at - t.entered_at) * 1000) AS pct
          FROM ${this.ofJourneys('stage_transitions', 't', key, f)} GROUP BY t.to_stage`;
      }),
      this.db.$queryRaw<{ stage: string | null; current: number }[]>`
        WITH j AS (${this.journeys(key, f)})
        SELECT CASE WHEN status = 'running' THEN stage END AS stage, count(*)::int AS current FROM j GROUP BY 1`,
    ]);
    const byStage = new Map(visits.map((v) => [v.stage, v]));
    const running = new Map(current.map((c) => [c.stage, c.current]));
    const total = current.reduce((a, c) => a + c.current, 0);
    const stages = def.stages.map((s, i) => {
      const v = byStage.get(s.key);
      return {
        stage: s.key,
        label: s.label,
        entered: v?.entered ?? 0,
        current: running.get(s.key) ?? 0,
        convertedToNext: i === def.stages.length - 1 ? null : (v?.converted ?? 0),
        visits: v?.visits ?? 0,
        medianMs: ms(v?.pct?.[0] ?? null),
        p90Ms: ms(v?.pct?.[1] ?? null),
      };
    });
    return { total, stages };
  }

  private goalKeys(def: JourneyDefinition, seen: string[]): string[] {
    const keys = def.goals.flatMap((g) => (g.key !== undefined ? [g.key] : []));
    return [...keys, ...seen.filter((k) => !keys.includes(k)).sort()];
  }

  async funnel(key: string, f: AnalyticsFilters) {
    const def = await this.definition(key, f.version);
    const [{ total, stages }, reached] = await Promise.all([
      this.stageFigures(key, f, def),
      this.db.$queryRaw<{ key: string; reached: number }[]>`
        WITH j AS (${this.journeys(key, f)}) SELECT g AS key, count(DISTINCT j.workflow_id)::int AS reached FROM j, unnest(j.goals) AS g GROUP BY g`,
    ]);
    const counts = new Map(reached.map((r) => [r.key, r.reached]));
    return {
      journeyKey: key,
      from: f.from ?? null,
      to: f.to ?? null,
      total,
      stages: stages.map((s) => ({
        stage: s.stage,
        label: s.label,
        entered: s.entered,
        current: s.current,
        convertedToNext: s.convertedToNext,
        medianMsInStage: s.medianMs,
        p90MsInStage: s.p90Ms,
      })),
      goals: this.goalKeys(def, [...counts.keys()]).map((k) => ({ key: k, reached: counts.get(k) ?? 0 })),
    };
  }

  async timeInStage(key: string, f: AnalyticsFilters) {
    const def = await this.definition(key, f.version);
    const { stages } = await this.stageFigures(key, f, def);
    return { journeyKey: key, stages: stages.map((s) => ({ stage: s.stage, label: s.label, count: s.visits, medianMs: s.medianMs, p90Ms: s.p90Ms })) };
  }

  /**
   * Stalls: running journeys by stage and the step they wait at (a journey waiting at two steps counts at each; one
   * waiting at none — stuck, or not recorded yet — under step null), with the median time since they began waiting
   * there. Exits: journeys that ended `exited` or `failed`, by the stage they were in and the reason (a failure by its
   * code, the part of the reason before the first colon).
   */
  async breakpoints(key: string, f: AnalyticsFilters) {
    await this.definition(key, f.version);
    const now = this.now().toISOString();
    const [stalls, exits] = await Promise.all([
      this.db.$queryRaw<{ stage: string; step: string | null; count: number; median: number | null }[]>`
        WITH j AS (${this.journeys(key, f)})
        SELECT j.stage, w.step, count(*)::int AS count,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', ${utc(now)} - j.waiting_since) * 1000) AS median
        FROM j LEFT JOIN LATERAL unnest(j.waiting) AS w(step) ON true
        WHERE j.status = 'running' GROUP BY j.stage, w.step ORDER BY count DESC, j.stage, w.step`,
      this.db.$queryRaw<{ stage: string; status: string; reason: string | null; count: number }[]>`
        WITH j AS (${this.journeys(key, f)})
        SELECT stage, status, CASE WHEN status = 'failed' THEN split_part(exit_reason, ':', 1) ELSE exit_reason END AS reason, count(*)::int AS count
        FROM j WHERE status IN ('exited', 'failed') GROUP BY 1, 2, 3 ORDER BY count DESC, 1, 2, 3`,
    ]);
    return {
      journeyKey: key,
      stalls: stalls.map((s) => ({ stage: s.stage, step: s.step, count: s.count, medianWaitingMs: ms(s.median) })),
      exits,
    };
  }

  /**
   * Survey answers (`feedback` log entries with a numeric score) per touchpoint — the survey step's template, or the
   * survey kind for answers recorded before the template was — and kind: responses and the average score; for NPS
   * also promoters (9–10), passives (7–8), detractors (0–6) and NPS = % promoters − % detractors (−100…100).
   */
  async feedback(key: string, f: AnalyticsFilters) {
    await this.definition(key, f.version);
    const rows = await this.db.$queryRaw<
      { touchpoint: string; kind: 'csat' | 'nps' | 'ces'; responses: number; average: number; promoters: number; passives: number; detractors: number }[]
    >`
      WITH j AS (${this.journeys(key, f)}),
      a AS (
        SELECT COALESCE(l.data->>'template', l.data->>'survey') AS touchpoint, l.data->>'survey' AS kind,
          -- Cast only what is a number: Postgres may evaluate an outer filter on score before this CTE's WHERE.
          CASE WHEN jsonb_typeof(l.data->'score') = 'number' THEN (l.data->>'score')::float8 END AS score
        FROM journey_log l JOIN j ON j.workflow_id = l.workflow_id
        WHERE l.kind = 'feedback' AND l.data->>'survey' IN ('csat', 'nps', 'ces') AND jsonb_typeof(l.data->'score') = 'number'
      )
      SELECT touchpoint, kind, count(*)::int AS responses, avg(score) AS average,
             count(*) FILTER (WHERE score >= 9)::int AS promoters, count(*) FILTER (WHERE score >= 7 AND score < 9)::int AS passives,
             count(*) FILTER (WHERE score <= 6)::int AS detractors
      FROM a WHERE kind <> 'nps' OR score BETWEEN 0 AND 10 GROUP BY 1, 2 ORDER BY 1, 2`;
    return {
      journeyKey: key,
      touchpoints: rows.map((r) => ({
        touchpoint: r.touchpoint,
        kind: r.kind,
        responses: r.responses,
        average: r.average,
        ...(r.kind === 'nps' ? { promoters: r.promoters, passives: r.passives, detractors: r.detractors, nps: ((r.promoters - r.detractors) * 100) / r.responses } : {}),
      })),
    };
  }

  /**
   * Message outcomes per template and channel: each message counted once under every outcome its story holds (a
   * message deferred for quiet hours and then sent counts as deferred and as sent); the reasons of the suppressions,
   * deferrals, drops and failures, each message once per reason. Each message's outcomes and reasons are kept with it
   * by the database as its story grows (see the migration `analytics_summaries`): one pass over the key's messages.
   */
  async messages(key: string, f: AnalyticsFilters) {
    await this.definition(key, f.version);
    type Counts = { template: string; channel: string; total: number; sent: number; delivered: number; failed: number; suppressed: number; deferred: number; dropped: number };
    // Two passes side by side, counts and reasons, rather than one that materialises the messages for both.
    const [counts, reasons] = await Promise.all([
      this.db.$queryRaw<Counts[]>`
        SELECT m.template, m.channel, count(*)::int AS total,
               count(*) FILTER (WHERE 'sent' = ANY(m.outcomes))::int AS sent, count(*) FILTER (WHERE 'delivered' = ANY(m.outcomes))::int AS delivered,
               count(*) FILTER (WHERE 'failed' = ANY(m.outcomes))::int AS failed, count(*) FILTER (WHERE 'suppressed' = ANY(m.outcomes))::int AS suppressed,
               count(*) FILTER (WHERE 'deferred' = ANY(m.outcomes))::int AS deferred, count(*) FILTER (WHERE 'dropped' = ANY(m.outcomes))::int AS dropped
        FROM ${this.ofJourneys('messages', 'm', key, f)} GROUP BY 1, 2 ORDER BY 1, 2`,
      this.db.$queryRaw<{ template: string; channel: string; reason: string; n: number }[]>`
        SELECT m.template, m.channel, x.reason, count(*)::int AS n
        FROM (SELECT m.template, m.channel, m.outcome_reasons FROM ${this.ofJourneys('messages', 'm', key, f)}) m, unnest(m.outcome_reasons) AS x(reason)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    ]);
    const reasonsOf = (c: Counts) => Object.fromEntries(reasons.filter((r) => r.template === c.template && r.channel === c.channel).map((r) => [r.reason, r.n]));
    return { journeyKey: key, rows: counts.map((c) => ({ ...c, reasons: reasonsOf(c) })) };
  }

  /**
   * Per goal: conversion of the treated journeys and of the control group (held out: no sends, no tasks), the lift
   * (the difference) with its 95 % interval — the two-proportion Wald interval, unpooled: lift ± 1.96·√(p₁(1−p₁)/n₁ +
   * p₂(1−p₂)/n₂) — and `significant` when the interval excludes 0. No interval while a group is empty.
   */
  async lift(key: string, f: AnalyticsFilters) {
    const def = await this.definition(key, f.version);
    const [sizes, conversions] = await Promise.all([
      this.db.$queryRaw<{ cohort: string; n: number }[]>`WITH j AS (${this.journeys(key, f)}) SELECT cohort, count(*)::int AS n FROM j GROUP BY cohort`,
      this.db.$queryRaw<{ cohort: string; key: string; converted: number }[]>`
        WITH j AS (${this.journeys(key, f)}) SELECT j.cohort, g AS key, count(DISTINCT j.workflow_id)::int AS converted FROM j, unnest(j.goals) AS g GROUP BY 1, 2`,
    ]);
    const n = (cohort: string) => sizes.find((s) => s.cohort === cohort)?.n ?? 0;
    const converted = (cohort: string, goal: string) => conversions.find((c) => c.cohort === cohort && c.key === goal)?.converted ?? 0;
    const group = (cohort: string, goal: string) => {
      const size = n(cohort);
      const c = converted(cohort, goal);
      return { n: size, converted: c, rate: size === 0 ? null : c / size };
    };
    return {
      journeyKey: key,
      goals: this.goalKeys(def, [...new Set(conversions.map((c) => c.key))]).map((goal) => {
        const treated = group('treated', goal);
        const control = group('control', goal);
        const l = liftInterval(treated, control);
        return { key: goal, treated, control, lift: l?.lift ?? null, ci95: l?.ci95 ?? null, significant: l?.significant ?? false };
      }),
    };
  }

  /** The journey map's live counts for one version (the one asked for, else the newest published): running journeys
   * in each stage, and at each step a flow can wait at (named as `stepRef` names it). */
  async map(key: string, f: AnalyticsFilters) {
    const def = await this.definition(key, f.version);
    const scoped = { ...f, version: def.version };
    const [stages, steps] = await Promise.all([
      this.db.$queryRaw<{ stage: string; current: number }[]>`
        WITH j AS (${this.journeys(key, scoped)}) SELECT stage, count(*)::int AS current FROM j WHERE status = 'running' GROUP BY stage`,
      this.db.$queryRaw<{ step: string; waiting: number }[]>`
        WITH j AS (${this.journeys(key, scoped)}) SELECT w.step, count(*)::int AS waiting FROM j, unnest(j.waiting) AS w(step) WHERE j.status = 'running' GROUP BY w.step`,
    ]);
    const current = new Map(stages.map((s) => [s.stage, s.current]));
    const waiting = new Map(steps.map((s) => [s.step, s.waiting]));
    const refs: string[] = [];
    walkSteps(def, (s, path) => {
      if (WAITING_KINDS.has(s.type)) refs.push(stepRef(s, formatPath(path)));
    });
    return {
      journeyKey: key,
      version: def.version,
      stages: def.stages.map((s) => ({ stage: s.key, label: s.label, current: current.get(s.key) ?? 0 })),
      steps: refs.map((step) => ({ step, waiting: waiting.get(step) ?? 0 })),
    };
  }

  /** Journeys newest first (by start, then id), `limit` a page; `rmId` keeps an rm to its own customers' journeys. */
  async listJourneys(q: JourneyListFilters, rmId?: string) {
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    const rows = await this.db.journey.findMany({
      where: {
        ...(q.journeyKey !== undefined ? { journeyKey: q.journeyKey } : {}),
        ...(q.stage !== undefined ? { stage: q.stage } : {}),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.cohort !== undefined ? { cohort: q.cohort } : {}),
        ...(q.customerId !== undefined ? { customerId: q.customerId } : {}),
        ...(rmId !== undefined ? { customer: { rmId } } : {}),
        ...(q.stuck === 'true' ? { AND: [{ status: 'running' }, { waiting: { isEmpty: true } }, { waitingSince: { not: null } }] } : {}),
        ...(after ? { OR: [{ startedAt: { lt: new Date(after.s) } }, { startedAt: new Date(after.s), workflowId: { lt: after.w } }] } : {}),
      },
      orderBy: [{ startedAt: 'desc' }, { workflowId: 'desc' }],
      take: q.limit + 1,
      select: {
        workflowId: true,
        customerId: true,
        journeyKey: true,
        version: true,
        status: true,
        exitReason: true,
        stage: true,
        stageEnteredAt: true,
        waiting: true,
        waitingSince: true,
        startedAt: true,
        endedAt: true,
        cohort: true,
      },
    });
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > q.limit && last ? encodeCursor({ s: last.startedAt.toISOString(), w: last.workflowId }) : null };
  }
}
