// A customer's timeline: "why did (or didn't) this customer get that message?" answered from the read model alone.
// Inbound events, stage changes, the engine's journey log (branch and split decisions, goals, feedback, holdouts,
// failures, sends and tasks that never happened), every message with each decision of the contact policy, tasks
// created, escalated and completed, and journeys ended — merged in time order, each naming its journey and step.
// Contact data stays out: no recipient, subject or body of a message, no event payload, no task note.
import { z } from 'zod';
import type { Db, Prisma } from '../db/client.js';
import { notFound } from './errors.js';
import { StoredInstant } from './schemas.js';
import { TIMELINE_LANGS, TIMELINE_WORDS, type TimelineWords } from './timeline-words.js';

export type TimelineKind =
  | 'event'
  | 'stage'
  | 'branch'
  | 'split'
  | 'holdout'
  | 'goal'
  | 'feedback'
  | 'failure'
  | 'migration'
  | 'migration_refused'
  | 'send'
  | 'send_skipped'
  | 'task_created'
  | 'task_escalated'
  | 'task_outcome'
  | 'ended';

export interface JourneyRef {
  workflowId: string;
  journeyKey: string;
  version: number;
}

export interface TimelineEntry {
  at: string;
  kind: TimelineKind;
  journey?: JourneyRef;
  step?: string;
  summary: string;
  detail: Record<string, unknown>;
}

export interface Timeline {
  customerId: string;
  entries: TimelineEntry[];
  /** Entries past `limit` were left out: ask again with `from` = `nextFrom`. */
  truncated: boolean;
  nextFrom?: string;
}

export const TIMELINE_MAX_LIMIT = 2000;

const isoTime = StoredInstant;
export const TimelineQuery = z
  .object({
    /** Entries at or after this instant (inclusive), and before `to` (exclusive). */
    from: isoTime.optional(),
    to: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(TIMELINE_MAX_LIMIT).default(500),
    /** The language of the summaries (the detail is the same in every language). */
    lang: z.enum(TIMELINE_LANGS).default('en'),
  })
  .strict();

/** The journey-log kinds the timeline shows (`held_out`, a send or task a control journey did not issue, as a
 * `send_skipped` with reason `held_out`: one kind answers "why was nothing sent"); `task_outcome` comes from the tasks table instead (every
 * completed task has one, while the log records it only when a flow waited for it), so one fact shows once. */
const LOG_KINDS = ['branch', 'split', 'holdout', 'goal', 'feedback', 'failure', 'migration', 'migration_refused', 'send_skipped', 'held_out'] as const;
type LogKind = (typeof LOG_KINDS)[number];

const iso = (d: Date) => d.toISOString();
const obj = (v: Prisma.JsonValue): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Where a log entry happened in the definition: the step's id, else its path. */
const stepOf = (d: Record<string, unknown>): string | undefined => (typeof d.step === 'string' ? d.step : typeof d.path === 'string' ? d.path : undefined);

/** One sentence per log entry; the detail carries the rest. */
function logSummary(w: TimelineWords, kind: LogKind, d: Record<string, unknown>): string {
  switch (kind) {
    case 'branch': {
      const where = w.branch(stepOf(d) ?? '', str(d.flow));
      const read = Object.entries(obj(d.read as Prisma.JsonValue))
        .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
        .join(', ');
      const values = read ? ` (${read})` : '';
      if (d.taken === 'case') return w.tookCase(where, str(d.case), str(d.when), values);
      return w.noCase(where, d.taken === 'otherwise', values);
    }
    case 'split':
      return w.split(str(d.split), str(d.variant));
    case 'holdout':
      return w.holdout(str(d.cohort), d.source !== undefined ? str(d.source) : undefined, d.percent !== undefined ? str(d.percent) : undefined);
    case 'goal':
      return w.goal(str(d.goal));
    case 'held_out':
      return w.heldOut(d.action === 'task' ? w.task(str(d.taskKey)) : `${str(d.channel)} ${str(d.template)}`);
    case 'feedback':
      return w.feedback(str(d.survey), str(d.score));
    case 'failure':
      return w.failure(str(d.code));
    case 'migration': {
      const stage = obj(d.stage as Prisma.JsonValue);
      return w.migrated(str(d.fromVersion), str(d.toVersion), str(stage.from), str(stage.to));
    }
    case 'migration_refused':
      return w.migrationRefused(str(d.fromVersion), str(d.toVersion), str(d.code));
    case 'send_skipped': {
      const items = Array.isArray(d.skipped) ? (d.skipped as Record<string, unknown>[]) : [];
      const what = items.map((i) => (i.action === 'task' ? w.task(str(i.taskKey)) : `${str(i.channel)} ${str(i.template)}`)).join(', ');
      const why =
        d.reason === 'flow_cancelled'
          ? w.cancelledBy(str(obj(d.by as Prisma.JsonValue).flow))
          : d.reason === 'stage_left'
            ? w.stageLeft(str(d.stage), str(d.to))
            : d.reason === 'journey_ended'
              ? w.journeyEnded(str(d.endReason))
              : d.reason === 'flow_replaced'
                ? w.flowReplaced(str(d.event))
                : str(d.reason);
      return w.notSent(what, `${str(d.flow)}${d.instance !== undefined ? ` (${str(d.instance)})` : ''}`, why);
    }
  }
}

/** The decision a message's story ends on, with its reason: what a reader asks first. */
function messageSummary(
  w: TimelineWords,
  m: { channel: string; template: string; status: string; statusReason: string | null },
  events: { type: string; detail: Record<string, unknown> }[],
): string {
  const decisions = events.filter((e) => e.type === 'suppressed' || e.type === 'deferred' || e.type === 'dropped');
  const why = decisions.map((e) => `${e.type}${typeof e.detail.reason === 'string' ? ` (${e.detail.reason})` : ''}`).join(w.then);
  const reason = m.statusReason ? ` (${m.statusReason})` : '';
  return `${m.channel} ${m.template}: ${m.status}${reason}${why && !why.endsWith(`${m.status}${reason}`) ? ` — ${why}` : ''}`;
}

/** Entries one instant may hold that a page still returns whole (an engine activation stamps all its records with
 * one instant: a journey end can cut many flows at once). */
const INSTANT_CAP = 10_000;

/**
 * The customer's timeline from `from` on, oldest first, at most `limit` entries. When more are left, the entries at the
 * last instant kept are left out too, so `nextFrom` (that instant) continues without a gap or a repeat — unless one
 * instant alone holds more than `limit` entries: then that instant is read again by itself, whole (up to INSTANT_CAP
 * per source), and `nextFrom` is the next millisecond (the read model's precision).
 */
export async function customerTimeline(db: Db, customerId: string, q: z.infer<typeof TimelineQuery>): Promise<Timeline> {
  const customer = await db.customer.findUnique({ where: { id: customerId }, select: { id: true } });
  if (!customer) throw notFound('customer', customerId);
  const limit = q.limit;
  const w = TIMELINE_WORDS[q.lang];
  // The window each source's own time column must fall in (undefined: no bound; Prisma leaves the field out).
  const within = q.from || q.to ? { ...(q.from ? { gte: new Date(q.from) } : {}), ...(q.to ? { lt: new Date(q.to) } : {}) } : undefined;
  const happened = { not: null, ...within };
  // Each source gives at most limit + 1 rows in time order: the merge needs no more to know the first `limit` and
  // whether anything is left.
  const take = limit + 1;
  const [journeys, events, transitions, log, messages, created, escalated, completed, ended] = await Promise.all([
    db.journey.findMany({ where: { customerId }, select: { workflowId: true, journeyKey: true, version: true } }),
    db.inboundEvent.findMany({ where: { customerId, receivedAt: within }, orderBy: [{ receivedAt: 'asc' }, { eventId: 'asc' }], take }),
    db.stageTransition.findMany({ where: { journey: { customerId }, enteredAt: within }, orderBy: [{ enteredAt: 'asc' }, { id: 'asc' }], take }),
    db.journeyLogEntry.findMany({ where: { customerId, kind: { in: [...LOG_KINDS] }, at: within }, orderBy: [{ at: 'asc' }, { id: 'asc' }], take }),
    db.message.findMany({
      where: { customerId, createdAt: within },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take,
      select: {
        id: true,
        idempotencyKey: true,
        workflowId: true,
        channel: true,
        template: true,
        class: true,
        priority: true,
        status: true,
        statusReason: true,
        deferredUntil: true,
        createdAt: true,
        sentAt: true,
        deliveredAt: true,
        events: { orderBy: [{ at: 'asc' }, { id: 'asc' }], select: { at: true, type: true, detail: true } },
      },
    }),
    db.task.findMany({ where: { customerId, createdAt: within }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take }),
    db.task.findMany({ where: { customerId, escalatedAt: happened }, orderBy: [{ escalatedAt: 'asc' }, { id: 'asc' }], take }),
    db.task.findMany({ where: { customerId, completedAt: happened }, orderBy: [{ completedAt: 'asc' }, { id: 'asc' }], take }),
    db.journey.findMany({ where: { customerId, endedAt: happened }, orderBy: [{ endedAt: 'asc' }, { workflowId: 'asc' }], take }),
  ]);
  const refs = new Map(journeys.map((j) => [j.workflowId, { workflowId: j.workflowId, journeyKey: j.journeyKey, version: j.version }]));
  const journeyOf = (workflowId: string | null | undefined) => {
    const ref = workflowId ? refs.get(workflowId) : undefined;
    return ref ? { journey: ref } : {};
  };
  // Sorted by time, then by the order a reader expects at one instant (an event before what it caused).
  const entries: (TimelineEntry & { order: number })[] = [];
  const add = (e: TimelineEntry, order: number) => entries.push({ ...e, order });

  for (const e of events)
    add(
      {
        at: iso(e.receivedAt),
        kind: 'event',
        ...journeyOf(e.workflowId),
        summary: w.event(e.type, e.deliveredTo.length),
        detail: { eventId: e.eventId, type: e.type, occurredAt: iso(e.occurredAt), deliveredTo: e.deliveredTo },
      },
      0,
    );
  for (const t of transitions)
    add(
      {
        at: iso(t.enteredAt),
        kind: 'stage',
        ...journeyOf(t.workflowId),
        summary: t.fromStage === null ? w.started(t.toStage) : w.stage(t.fromStage, t.toStage, t.cause),
        detail: { seq: t.seq, from: t.fromStage, to: t.toStage, cause: t.cause },
      },
      1,
    );
  for (const l of log) {
    const kind = l.kind as LogKind;
    const d = obj(l.data);
    const step = stepOf(d);
    const entry = kind === 'held_out' ? { kind: 'send_skipped' as const, detail: { reason: 'held_out', ...d } } : { kind, detail: d };
    add({ at: iso(l.at), ...entry, ...journeyOf(l.workflowId), ...(step !== undefined ? { step } : {}), summary: logSummary(w, kind, d) }, 2);
  }
  for (const m of messages) {
    const story = m.events.map((e) => ({ at: iso(e.at), type: e.type, detail: obj(e.detail) }));
    add(
      {
        at: iso(m.createdAt),
        kind: 'send',
        ...journeyOf(m.workflowId),
        summary: messageSummary(w, m, story),
        detail: {
          messageId: m.id,
          channel: m.channel,
          template: m.template,
          class: m.class,
          priority: m.priority,
          status: m.status,
          ...(m.statusReason !== null ? { reason: m.statusReason } : {}),
          ...(m.deferredUntil !== null ? { deferredUntil: iso(m.deferredUntil) } : {}),
          ...(m.sentAt !== null ? { sentAt: iso(m.sentAt) } : {}),
          ...(m.deliveredAt !== null ? { deliveredAt: iso(m.deliveredAt) } : {}),
          events: story,
        },
      },
      3,
    );
  }
  for (const t of created)
    add(
      {
        at: iso(t.createdAt),
        kind: 'task_created',
        ...journeyOf(t.workflowId),
        step: t.taskKey,
        summary: w.taskCreated(t.taskKey, t.rmId, t.title, iso(t.dueAt)),
        detail: { taskId: t.id, taskKey: t.taskKey, title: t.title, rmId: t.rmId, dueAt: iso(t.dueAt), status: t.status },
      },
      4,
    );
  for (const t of escalated)
    add(
      {
        at: iso(t.escalatedAt!),
        kind: 'task_escalated',
        ...journeyOf(t.workflowId),
        step: t.taskKey,
        summary: w.taskEscalated(t.taskKey, t.escalatedTo),
        detail: { taskId: t.id, taskKey: t.taskKey, escalatedTo: t.escalatedTo },
      },
      5,
    );
  for (const t of completed)
    add(
      {
        at: iso(t.completedAt!),
        kind: 'task_outcome',
        ...journeyOf(t.workflowId),
        step: t.taskKey,
        summary: w.taskDone(t.taskKey, t.outcome),
        detail: { taskId: t.id, taskKey: t.taskKey, outcome: t.outcome },
      },
      6,
    );
  for (const j of ended)
    add(
      {
        at: iso(j.endedAt!),
        kind: 'ended',
        journey: { workflowId: j.workflowId, journeyKey: j.journeyKey, version: j.version },
        summary: w.ended(j.journeyKey, j.status, j.exitReason, j.stage),
        detail: { status: j.status, reason: j.exitReason, stage: j.stage, goals: j.goals },
      },
      7,
    );

  entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
  let kept = entries;
  let nextFrom: string | undefined;
  if (entries.length > limit) {
    const cut = entries[limit]!.at;
    const before = entries.slice(0, limit).filter((e) => e.at < cut);
    if (before.length > 0) {
      kept = before;
      nextFrom = cut;
    } else {
      // One instant holding more than `limit` entries: all of them (each source read afresh for that instant alone, so
      // none is left behind by the limit + 1 rows read above), rather than a page that cannot move on.
      const after = new Date(Date.parse(cut) + 1).toISOString();
      const whole = await customerTimeline(db, customerId, { from: cut, to: after, limit: INSTANT_CAP, lang: q.lang });
      const more = !q.to || Date.parse(after) < Date.parse(q.to);
      return { customerId, entries: whole.entries, truncated: more, ...(more ? { nextFrom: after } : {}) };
    }
  }
  return {
    customerId,
    entries: kept.map(({ order: _, ...e }) => e),
    truncated: nextFrom !== undefined,
    ...(nextFrom !== undefined ? { nextFrom } : {}),
  };
}
