// What the service does, apart from HTTP: starting journeys (by API, by an entry event, by another journey),
// delivering events, reading journeys and tasks, and the journey chorus. The API and the chorus activities share it.
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { z } from 'zod';
import { type JourneyDefinition, type ParamValues, ParamsError, resolveParams } from '../engine/definition.js';
import type { DurationLimits } from '../engine/duration.js';
import { addDuration } from '../engine/duration.js';
import { type JourneyEvent, matches, type Profile, readField, start as startEngine, waitingSteps } from '../engine/engine.js';
import { type Customer, type Db, type Journey, Prisma } from '../db/client.js';
import { isUniqueViolation } from '../db/unique.js';
import type { journeyWorkflow, JourneyWorkflowInput } from '../workflows/journey.js';
import {
  CustomerIdAttr,
  exitJourneySignal,
  journeyEventSignal,
  journeyQuery,
  JourneyKeyAttr,
  JourneyStageAttr,
  JourneyStatusAttr,
  type JourneyView,
  journeyWorkflowId,
  profileSignal,
  taskCompletedSignal,
} from '../workflows/messages.js';
import type { DefinitionStore } from './definitions.js';
import { assignHoldout, type ControlGroup } from './holdouts.js';
import { customerTimeline, type TimelineQuery } from './timeline.js';
import { Conflict, conflict, DomainError, Invalid, NotFound, notFound, Unprocessable } from './errors.js';
import { acceptedOutcomes } from './task-outcomes.js';
import { ADDRESS_COLUMNS } from '../channels/registry.js';
import { type CompleteTaskBody, ConsentChannel, type CustomerBody, type EventBody, marketingConsentKey, type MessageQuery, OptOutClass, type TaskQuery } from './schemas.js';
import { eventsReceived, journeysStarted } from './metrics.js';

export interface ServiceDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  definitions: DefinitionStore;
  /** The global control group (config CONTROL_GROUP_PERCENT, HOLDOUT_SALT); absent → none, default salt. */
  controlGroup?: ControlGroup;
}

/** Who asked for a change (a principal id) and in which request: the provenance a consent change keeps. */
export interface Actor {
  principalId: string;
  requestId?: string;
}

/** The reason a journey ends with when its customer is erased. */
export const ERASED_REASON = 'erased';

/** How a journey came to be started: re-entry refusals are errors for the API, silent for events and journeys; a bulk
 * enrolment is the API's start for many customers (the same entry rule: `entry.api`). */
export type StartVia = 'api' | 'enrolment' | 'event' | 'journey';

export interface StartRequest {
  journeyKey: string;
  customerId: string;
  businessKey?: string;
  params?: Record<string, unknown>;
  via: StartVia;
  /** The bulk enrolment asking (service/enrolments.ts): written on the row it creates, and a running journey whose row
   * it wrote is its own start again (its workflow is started if a crash left the row without one), not a refusal. */
  enrolmentId?: string;
  /** The entry event that starts it: delivered in the same call as the start (signal-with-start), so the journey has it
   * as its first input and the API needs no second call. */
  event?: JourneyEvent;
}

type JourneyRow = { workflowId: string; journeyKey: string; version: number; customerId: string; businessKey: string | null; stage: string; status: string; cohort: string };

/** The part of a profile a journey may see: no name, address or number. */
export function profileSnapshot(c: { segment: string | null; timeZone: string | null; locale: string; attributes: unknown }): Profile {
  // A customer without a zone has none in the profile either: the engine and the contact policy use their defaults.
  return { segment: c.segment, ...(c.timeZone !== null ? { timeZone: c.timeZone } : {}), locale: c.locale, attributes: (c.attributes ?? {}) as Record<string, unknown> };
}

/**
 * Least data in: the part of an event's data a journey receives, only the fields the event catalogue declares for its
 * type (none for a type the catalogue does not know). Whatever else a business system sends stays in `inbound_events`
 * (the service's own database, erasable) and never enters a workflow's signals, history or continue-as-new state.
 */
export function journeyEventData(declared: readonly string[] | undefined, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of declared ?? []) if (Object.hasOwn(data, field)) out[field] = data[field];
  return out;
}

/**
 * A start's params against the journey's declared params and the duration bounds, as a 400 naming each bad one (the
 * engine looks names up as the definition's own params: `constructor` is an unknown param, not something inherited).
 */
export function checkParams(definition: JourneyDefinition, given: Record<string, unknown>, limits: DurationLimits, at = 'body.params'): ParamValues {
  try {
    return resolveParams(definition, given, limits);
  } catch (err) {
    if (!(err instanceof ParamsError)) throw err;
    const details = err.problems.map((p) => ({ path: `${at}.${p.param}`, message: p.message }));
    throw new Invalid('invalid_params', `invalid params: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
  }
}

/** The journey a start is for (its newest published version) and the params it starts with, checked. */
export interface ResolvedStart {
  definition: JourneyDefinition;
  params: ParamValues;
}

/** What the rules decide for one customer's start, before anything is written: the journey already there answers
 * (running, entered once, or an enrolment's own that has ended), or a start under this workflow id. */
export type StartPlan =
  | { kind: 'existing'; row: Journey }
  | {
      kind: 'start';
      workflowId: string;
      customerId: string;
      businessKey?: string;
      enrolmentId?: string;
      /** The row is there already, written by this enrolment: the same start again (a crash may have come between the
       * row and the workflow). */
      ownRetry: boolean;
      profile: Profile;
    };

/** A planned start with the engine's start run at `startedAt`: its row, its first stage's transitions, its workflow's
 * input. */
export interface BegunStart {
  workflowId: string;
  via: StartVia;
  ownRetry: boolean;
  row: Prisma.JourneyCreateManyInput & { stage: string };
  transitions: Prisma.StageTransitionCreateManyInput[];
  input: JourneyWorkflowInput;
}

/**
 * The re-entry rule for one customer, from their row and their previous journeys of the key (any of the customer's
 * journeys may be given; only this workflow id's re-entries count), as of `now`. Throws `NotFound` for an unknown or
 * erased customer and `Conflict` `reentry_cooldown` while the last journey's cool-down runs.
 */
export function planStart(
  resolved: ResolvedStart,
  req: { customerId: string; businessKey?: string; enrolmentId?: string },
  customer: Customer | null,
  journeys: readonly Journey[],
  now: Date,
): StartPlan {
  const { definition } = resolved;
  if (!customer || customer.erasedAt) throw notFound('customer', req.customerId);
  const baseId = journeyWorkflowId(definition.key, req.customerId, req.businessKey);
  const reentryOf = (workflowId: string) =>
    workflowId === baseId ? 1 : workflowId.startsWith(`${baseId}@`) && /^@[1-9][0-9]*$/.test(workflowId.slice(baseId.length)) ? Number(workflowId.slice(baseId.length + 1)) : 0;
  const previous = journeys
    .filter((r) => reentryOf(r.workflowId) > 0)
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || reentryOf(b.workflowId) - reentryOf(a.workflowId));
  const last = previous[0];
  const start = (workflowId: string, ownRetry: boolean): StartPlan => ({
    kind: 'start',
    workflowId,
    customerId: req.customerId,
    ...(req.businessKey !== undefined ? { businessKey: req.businessKey } : {}),
    ...(req.enrolmentId !== undefined ? { enrolmentId: req.enrolmentId } : {}),
    ownRetry,
    profile: profileSnapshot(customer),
  });
  if (!last) return start(baseId, false);
  // An enrolment's own row: running, the same start again; ended, its start was made (and is not made twice).
  if (req.enrolmentId !== undefined && last.enrolmentId === req.enrolmentId) return last.status === 'running' ? start(last.workflowId, true) : { kind: 'existing', row: last };
  const cooldown = definition.entry.reentry.mode === 'cooldown' ? definition.entry.reentry.cooldown : undefined;
  if (last.status === 'running' || cooldown === undefined) return { kind: 'existing', row: last };
  const again = addDuration(last.endedAt ?? last.startedAt, cooldown);
  if (again.getTime() > now.getTime()) throw conflict('reentry_cooldown', `journey "${definition.key}" ended for this customer; it may start again from ${again.toISOString()}`);
  return start(`${baseId}@${previous.length + 1}`, false);
}

/**
 * The engine's start, as the workflow will run it (the same options and instant, `startedAt`): the row, the first
 * stage's transitions and the steps the journey waits at are written by the API (`writeStarts`), so a new workflow
 * needs no write of its own before its first actions.
 */
export function beginStart(
  resolved: ResolvedStart,
  plan: Extract<StartPlan, { kind: 'start' }>,
  via: StartVia,
  controlGroup: ControlGroup | undefined,
  startedAt: Date,
): BegunStart {
  const { definition, params } = resolved;
  const { workflowId, customerId, businessKey, profile } = plan;
  // Every start comes through here (the API, an entry event, another journey's startJourney step, an enrolment): the
  // one place the cohort is decided. The row keeps it for analytics; the workflow gets it and runs a control journey if so.
  const holdout = assignHoldout(definition, customerId, controlGroup);
  const begun = startEngine(
    definition,
    { instanceId: workflowId, customerId, ...(businessKey !== undefined ? { businessKey } : {}), params, profile, ...(holdout ? { holdout } : {}) },
    startedAt,
  );
  const initial = begun.state;
  const waiting = waitingSteps(definition, initial);
  return {
    workflowId,
    via,
    ownRetry: plan.ownRetry,
    row: {
      workflowId,
      customerId,
      journeyKey: definition.key,
      version: definition.version,
      businessKey: businessKey ?? null,
      params,
      tags: definition.tags,
      cohort: holdout?.cohort ?? 'treated',
      status: 'running',
      stage: initial.stage,
      stageEnteredAt: new Date(initial.stageEnteredAt),
      waiting,
      // As the workflow's progress writes it: set when the journey first waits somewhere.
      waitingSince: waiting.length ? startedAt : null,
      enrolmentId: plan.enrolmentId ?? null,
    },
    transitions: begun.commands.flatMap((c) =>
      c.type === 'stageChanged' ? [{ workflowId, seq: c.seq, fromStage: c.from, toStage: c.to, cause: c.cause, enteredAt: new Date(c.at) }] : [],
    ),
    input: {
      definition,
      customerId,
      ...(businessKey !== undefined ? { businessKey } : {}),
      params,
      profile,
      ...(holdout ? { holdout } : {}),
      startedAt: startedAt.toISOString(),
    },
  };
}

export class JourneyService {
  constructor(private readonly deps: ServiceDeps) {}

  private get db() {
    return this.deps.db;
  }

  // ---- customers -------------------------------------------------------------------------------------------------

  /**
   * Creates or updates a customer. Each consent it changes is recorded with who changed it (`consent_changes`), in the
   * same transaction. An erased customer's id is not reused: 409 `customer_erased`.
   */
  async upsertCustomer(customerId: string, body: z.infer<typeof CustomerBody>, actor: Actor) {
    const { consents, attributes, ...fields } = body;
    const { existing, customer } = await this.db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM customers WHERE id = ${customerId} FOR UPDATE`;
      const existing = await tx.customer.findUnique({ where: { id: customerId } });
      if (existing?.erasedAt) throw conflict('customer_erased', `customer "${customerId}" was erased; its id is not used again`);
      const before = (existing?.consents ?? {}) as Record<string, boolean>;
      const mergedConsents = { ...before, ...(consents ?? {}) };
      const data = { ...fields, consents: mergedConsents, ...(attributes !== undefined ? { attributes: attributes as Prisma.InputJsonValue } : {}) };
      const customer = await tx.customer.upsert({ where: { id: customerId }, create: { id: customerId, ...data }, update: data });
      const changes = Object.entries(consents ?? {})
        .filter(([channel, to]) => to !== undefined && before[channel] !== to)
        .map(([channel, to]) => ({
          customerId,
          channel,
          from: before[channel] ?? null,
          to: to!,
          source: 'principal',
          principalId: actor.principalId,
          requestId: actor.requestId ?? null,
        }));
      if (changes.length) await tx.consentChange.createMany({ data: changes });
      return { existing, customer };
    });
    if (existing) {
      // Running journeys branch on the profile: they get the new snapshot.
      const running = await this.db.journey.findMany({ where: { customerId, status: 'running' }, select: { workflowId: true } });
      await Promise.all(running.map((j) => this.signalIfRunning(j.workflowId, (h) => h.signal(profileSignal, profileSnapshot(customer)))));
    }
    return { created: existing === null, customer };
  }

  /** A customer that exists and has not been erased (an erased one reads as not found). */
  async getCustomer(customerId: string) {
    const customer = await this.db.customer.findUnique({ where: { id: customerId } });
    if (!customer || customer.erasedAt) throw notFound('customer', customerId);
    return customer;
  }

  /**
   * Erases a customer: their running journeys end (exit, reason `erased`), their personal data leaves Postgres
   * (profile fields, message recipients, subjects, bodies and provider error texts, inbound event data, task notes,
   * journey params, feedback comments), and the facts analytics count stay under the same id (journeys and their
   * stage transitions, message status, channel, template and story, task outcomes, goals, splits, consent history).
   * The row stays, marked `erased_at`, so the id is not reused, events for it are refused and no send can reach it.
   * Asking again finishes what an interrupted erasure left (journeys still running) and answers the same.
   */
  async eraseCustomer(customerId: string, actor: Actor): Promise<{ customerId: string; erasedAt: Date; journeysExited: string[] }> {
    const erasedAt = await this.db.$transaction(async (tx) => {
      const locked = await tx.$queryRaw<
        { erased_at: Date | null; consents: Record<string, boolean> }[]
      >`SELECT erased_at, consents FROM customers WHERE id = ${customerId} FOR UPDATE`;
      if (locked.length === 0) throw notFound('customer', customerId);
      const at = locked[0]!.erased_at ?? new Date();
      // Every consent is withdrawn, with its provenance like any other change: the erasure, and who asked for it.
      const before = locked[0]!.consents ?? {};
      const withdrawn = ConsentChannel.options.filter((channel) => before[channel] !== false);
      if (withdrawn.length)
        await tx.consentChange.createMany({
          data: withdrawn.map((channel) => ({
            customerId,
            channel,
            from: before[channel] ?? null,
            to: false,
            source: 'erasure',
            principalId: actor.principalId,
            requestId: actor.requestId ?? null,
            at,
          })),
        });
      await tx.customer.update({
        where: { id: customerId },
        data: {
          name: null,
          ...Object.fromEntries(ADDRESS_COLUMNS.map((a) => [a.column, null])),
          segment: null,
          rmId: null,
          timeZone: null,
          attributes: {},
          consents: Object.fromEntries(ConsentChannel.options.map((channel) => [channel, false])),
          erasedAt: at,
        },
      });
      await tx.message.updateMany({ where: { customerId }, data: { recipient: null, subject: null, body: null, error: null } });
      // A provider's error text can quote the address it failed on.
      await tx.$executeRaw`UPDATE message_events SET detail = detail - 'error' WHERE message_id IN (SELECT id FROM messages WHERE customer_id = ${customerId}) AND detail ? 'error'`;
      // Undelivered events are settled too: the sweeper would otherwise try to deliver them to nobody, forever.
      await tx.inboundEvent.updateMany({ where: { customerId }, data: { data: {} } });
      await tx.inboundEvent.updateMany({ where: { customerId, deliveredAt: null }, data: { deliveredAt: at } });
      await tx.task.updateMany({ where: { customerId }, data: { note: null } });
      await tx.journey.updateMany({ where: { customerId }, data: { params: {} } });
      await tx.$executeRaw`UPDATE journey_log SET data = data - 'comment' WHERE customer_id = ${customerId} AND data ? 'comment'`;
      // A branch decision keeps the values its conditions read (event fields, profile attributes): they go too.
      await tx.$executeRaw`UPDATE journey_log SET data = data - 'read' WHERE customer_id = ${customerId} AND kind = 'branch' AND data ? 'read'`;
      return at;
    });
    const journeysExited: string[] = [];
    for (const id of await this.runningJourneys(customerId))
      if (await this.signalIfRunning(id, (h) => h.signal(exitJourneySignal, { reason: ERASED_REASON }))) journeysExited.push(id);
    return { customerId, erasedAt, journeysExited };
  }

  // ---- starting journeys -----------------------------------------------------------------------------------------

  /**
   * Starts a journey on the newest published version of its definition, once per its re-entry rule: `once` — one
   * per customer (and business key), ever; `cooldown` — again once the last one has been over for the cool-down;
   * `concurrent` — one per business key. The workflow id is the idempotency key, so the same request again answers
   * the same journey.
   */
  async startJourney(req: StartRequest): Promise<{ created: boolean; journey: ReturnType<JourneyService['summary']>; eventDelivered?: boolean }> {
    const { created, row, eventDelivered } = await this.startJourneyRow(req);
    return { created, journey: this.summary(row), ...(eventDelivered ? { eventDelivered } : {}) };
  }

  /** `startJourney`, answering the journey's whole row (an enrolment reads whose start it was: `enrolmentId`). The
   * rules are the pieces a bulk enrolment uses for many customers at once (service/enrolments.ts): `resolveStart`,
   * `planStart`, `beginStart`, `writeStarts`, `launchStart`; here for one, its customer and previous journeys read
   * side by side. */
  async startJourneyRow(req: StartRequest): Promise<{
    created: boolean;
    row: Journey;
    /** The start carried `req.event` to the workflow (false or absent: the journey was not started here, so it was not). */
    eventDelivered?: boolean;
  }> {
    const resolved = await this.resolveStart(req.journeyKey, req.via, req.params ?? {});
    const baseId = journeyWorkflowId(resolved.definition.key, req.customerId, req.businessKey);
    const [customer, previous] = await Promise.all([
      this.db.customer.findUnique({ where: { id: req.customerId } }),
      this.db.journey.findMany({ where: { OR: [{ workflowId: baseId }, { workflowId: { startsWith: `${baseId}@` } }] } }),
    ]);
    const plan = planStart(resolved, req, customer, previous, new Date());
    if (plan.kind === 'existing') return { created: false, row: plan.row };
    const start = this.beginStart(resolved, plan, req.via, new Date());
    const inserted = await this.writeStarts([start]);
    let created: boolean;
    try {
      created = await this.launchStart(start, req.event ? { event: req.event, wroteRow: inserted.has(start.workflowId) } : {});
    } catch (err) {
      // No workflow, no row: a journey that never started must not be listed as running (nor block a retry).
      if (inserted.has(start.workflowId)) await this.unwriteStarts([start.workflowId]);
      throw err;
    }
    const row = await this.db.journey.findUniqueOrThrow({ where: { workflowId: start.workflowId } });
    return { created, row, ...(req.event ? { eventDelivered: true } : {}) };
  }

  /** The journey a start is for, its entry rule for this way in, and the params checked against it. */
  async resolveStart(journeyKey: string, via: StartVia, given: Record<string, unknown>): Promise<ResolvedStart> {
    const stored = await this.deps.definitions.latestPublished(journeyKey);
    if (!stored) throw notFound('journey', journeyKey);
    const definition = stored.definition;
    if ((via === 'api' || via === 'enrolment') && !definition.entry.api) throw conflict('entry_not_allowed', `journey "${definition.key}" is not started through the API`);
    return { definition, params: checkParams(definition, given, this.deps.definitions.durationLimits) };
  }

  /**
   * Plans the starts of many customers into one journey, for one enrolment: their customer rows and previous journeys
   * of the key in one query each, then each customer's `planStart` (a refusal is that customer's answer, not a throw).
   */
  async planStarts(resolved: ResolvedStart, customerIds: string[], enrolmentId: string | undefined, now: Date): Promise<Map<string, StartPlan | DomainError>> {
    const [customers, journeys] = await Promise.all([
      this.db.customer.findMany({ where: { id: { in: customerIds } } }),
      this.db.journey.findMany({ where: { journeyKey: resolved.definition.key, customerId: { in: customerIds } } }),
    ]);
    const customerOf = new Map(customers.map((c) => [c.id, c]));
    const journeysOf = new Map<string, Journey[]>();
    for (const j of journeys) journeysOf.set(j.customerId, [...(journeysOf.get(j.customerId) ?? []), j]);
    const plans = new Map<string, StartPlan | DomainError>();
    for (const customerId of customerIds) {
      try {
        const req = { customerId, ...(enrolmentId !== undefined ? { enrolmentId } : {}) };
        plans.set(customerId, planStart(resolved, req, customerOf.get(customerId) ?? null, journeysOf.get(customerId) ?? [], now));
      } catch (err) {
        if (!(err instanceof DomainError) || err.transient) throw err;
        plans.set(customerId, err);
      }
    }
    return plans;
  }

  /** `beginStart` with the service's control group: the one place the cohort is decided. */
  beginStart(resolved: ResolvedStart, plan: Extract<StartPlan, { kind: 'start' }>, via: StartVia, startedAt: Date): BegunStart {
    return beginStart(resolved, plan, via, this.deps.controlGroup, startedAt);
  }

  /**
   * Writes the rows of begun starts in one transaction, each with the transitions to its first stage (a reader never
   * sees a row without them); answers the workflow ids it inserted. A row already there (a concurrent identical
   * request, or an enrolment's own row from before a crash) keeps what its writer wrote.
   *
   * The API is the only creator of the journey row, and it writes it before the workflow exists: the workflow's
   * progress only ever updates a row that is already there, tags included (a row the workflow created first would lack
   * them, and a stop by tag would miss the journey).
   */
  async writeStarts(starts: readonly BegunStart[]): Promise<Set<string>> {
    if (starts.length === 0) return new Set();
    return this.db.$transaction(async (tx) => {
      const rows = await tx.journey.createManyAndReturn({ data: starts.map((s) => s.row), skipDuplicates: true, select: { workflowId: true } });
      const inserted = new Set(rows.map((r) => r.workflowId));
      const transitions = starts.filter((s) => inserted.has(s.workflowId)).flatMap((s) => s.transitions);
      if (transitions.length) await tx.stageTransition.createMany({ data: transitions, skipDuplicates: true });
      return inserted;
    });
  }

  /** Starts a begun start's workflow with its search attributes; false when it was already started (a concurrent
   * identical request, or an enrolment's start before a crash). With an entry `event`, one call starts it with the event
   * (signal-with-start): a running workflow of this id (a concurrent identical request started it) is only signalled,
   * and the journey ignores an event id it has seen, so a repeat applies it once; then whoever wrote the row
   * (`wroteRow`) started it. Any other failure is thrown: the caller removes the row it wrote (`unwriteStarts`). */
  async launchStart(start: BegunStart, entry: { event?: JourneyEvent; wroteRow?: boolean } = {}): Promise<boolean> {
    const options = {
      taskQueue: this.deps.taskQueue,
      workflowId: start.workflowId,
      args: [start.input] as [JourneyWorkflowInput],
      typedSearchAttributes: [
        { key: CustomerIdAttr, value: start.input.customerId },
        { key: JourneyKeyAttr, value: start.input.definition.key },
        { key: JourneyStageAttr, value: start.row.stage },
        { key: JourneyStatusAttr, value: 'running' },
      ],
    };
    let started = true;
    try {
      if (entry.event) {
        await this.deps.temporal.workflow.signalWithStart<typeof journeyWorkflow, [JourneyEvent]>('journeyWorkflow', {
          ...options,
          signal: journeyEventSignal,
          signalArgs: [entry.event],
        });
        started = entry.wroteRow ?? true;
      } else await this.deps.temporal.workflow.start<typeof journeyWorkflow>('journeyWorkflow', options);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
    if (started) journeysStarted.inc({ journey: start.input.definition.key, via: start.via });
    return started;
  }

  /** Removes rows whose workflow never started (and their first transitions), if still running as written. */
  async unwriteStarts(workflowIds: string[]): Promise<void> {
    if (workflowIds.length === 0) return;
    await this.db.$transaction([
      this.db.stageTransition.deleteMany({ where: { workflowId: { in: workflowIds }, journey: { status: 'running' } } }),
      this.db.journey.deleteMany({ where: { workflowId: { in: workflowIds }, status: 'running' } }),
    ]);
  }

  summary(row: JourneyRow) {
    return {
      workflowId: row.workflowId,
      journeyKey: row.journeyKey,
      version: row.version,
      customerId: row.customerId,
      ...(row.businessKey !== null ? { businessKey: row.businessKey } : {}),
      stage: row.stage,
      status: row.status,
      cohort: row.cohort,
    };
  }

  /** Journeys whose entry rule this event meets start with it, as their first input, in the start's own call;
   * `delivered` says the start carried the event (a journey already running was not started, and has not had it). */
  private async startByEvent(customerId: string, event: JourneyEvent, data: Record<string, unknown>): Promise<{ workflowId: string; delivered: boolean }[]> {
    const started: { workflowId: string; delivered: boolean }[] = [];
    for (const { definition } of await this.deps.definitions.allPublished()) {
      if (!definition.entry.events.some((e) => e.event === event.type && matches(e.where, data))) continue;
      const field = definition.entry.reentry.businessKeyField;
      const value = field ? readField(data, field) : undefined;
      try {
        const r = await this.startJourney({
          journeyKey: definition.key,
          customerId,
          ...(value !== undefined && value !== null ? { businessKey: String(value) } : {}),
          via: 'event',
          event,
        });
        if (r.journey.status === 'running') started.push({ workflowId: r.journey.workflowId, delivered: r.eventDelivered === true });
      } catch (err) {
        if (!(err instanceof Conflict)) throw err; // still cooling down: no new journey
      }
    }
    return started;
  }

  // ---- events ----------------------------------------------------------------------------------------------------

  /**
   * Records the event once (its eventId is unique) and delivers it to the customer's running journeys (starting those
   * it is an entry event of), or to one journey. A repeated eventId is reported as a duplicate; if its first delivery
   * did not finish, it is delivered again (the workflow ignores an event id it has seen), so a client's retry never
   * loses an event and never applies it twice.
   */
  async receiveEvent(customerId: string, body: z.infer<typeof EventBody>, workflowId?: string, actor?: Actor) {
    const occurredAt = body.occurredAt ? new Date(body.occurredAt) : new Date();
    const data = body.data ?? {};
    let duplicate = false;
    let row;
    try {
      const record = { eventId: body.eventId, customerId, workflowId: workflowId ?? null, type: body.type, occurredAt, data: data as Prisma.InputJsonValue };
      // A channel opt-out withdraws consent for that channel across all journeys; with `class: "marketing"` only the
      // channel's marketing (service messages still reach the customer).
      // Only a consent channel is ever a key (the request schema refuses any other value before this transaction).
      const channel = body.type === 'customer.opted_out' ? ConsentChannel.safeParse(data.channel).data : undefined;
      // Any other event is one row: one statement, not a transaction around it (BEGIN, INSERT, COMMIT).
      row =
        channel === undefined
          ? await this.db.inboundEvent.create({ data: record })
          : await this.db.$transaction(async (tx) => {
              const created = await tx.inboundEvent.create({ data: record });
              const consent = OptOutClass.safeParse(data.class).success ? marketingConsentKey(channel) : channel;
              const c = await tx.customer.findUniqueOrThrow({ where: { id: customerId } });
              const before = (c.consents ?? {}) as Record<string, boolean>;
              await tx.customer.update({ where: { id: customerId }, data: { consents: { ...before, [consent]: false } } });
              if (before[consent] !== false)
                await tx.consentChange.create({
                  data: {
                    customerId,
                    channel: consent,
                    from: before[consent] ?? null,
                    to: false,
                    source: 'event',
                    eventId: body.eventId,
                    principalId: actor?.principalId ?? null,
                    requestId: actor?.requestId ?? null,
                  },
                });
              return created;
            });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      duplicate = true;
      row = await this.db.inboundEvent.findUniqueOrThrow({ where: { eventId: body.eventId } });
      if (row.customerId !== customerId || row.type !== body.type || row.workflowId !== (workflowId ?? null))
        throw conflict('event_id_reused', `eventId "${body.eventId}" was already used for a different event`);
      eventsReceived.inc({ outcome: 'duplicate' });
      if (row.deliveredAt) return { eventId: row.eventId, duplicate, deliveredTo: row.deliveredTo };
    }
    if (!duplicate) eventsReceived.inc({ outcome: 'new' });
    return { eventId: row.eventId, duplicate, deliveredTo: await this.deliver(row) };
  }

  /** Delivers a recorded event that has not been delivered yet (Temporal was down when it came): the sweeper's way
   * in, the same path as a client's retry. Undefined when there is no such event or it has been delivered. */
  async deliverRecorded(eventId: string): Promise<string[] | undefined> {
    const row = await this.db.inboundEvent.findUnique({ where: { eventId } });
    if (!row || row.deliveredAt) return undefined;
    return this.deliver(row);
  }

  private async deliver(row: { eventId: string; customerId: string; workflowId: string | null; type: string; occurredAt: Date; data: Prisma.JsonValue }): Promise<string[]> {
    const { customerId, workflowId } = row;
    const data = row.data as Record<string, unknown>;
    const targets = workflowId ? [workflowId] : await this.runningJourneys(customerId);
    const event: JourneyEvent = { eventId: row.eventId, type: row.type, occurredAt: row.occurredAt.toISOString(), data: this.journeyData(row.type, data) };
    // Entry rules and business keys are decided here on the event as recorded; journeys receive only declared fields.
    // A journey the event starts has it from its start (one call); the others are signalled.
    const delivered = new Set<string>();
    if (!workflowId)
      for (const s of await this.startByEvent(customerId, event, data)) {
        if (!targets.includes(s.workflowId)) targets.push(s.workflowId);
        if (s.delivered) delivered.add(s.workflowId);
      }
    const deliveredTo: string[] = [];
    for (const target of targets) if (delivered.has(target) || (await this.signalIfRunning(target, (h) => h.signal(journeyEventSignal, event)))) deliveredTo.push(target);
    await this.db.inboundEvent.update({ where: { eventId: row.eventId }, data: { deliveredTo, deliveredAt: new Date() } });
    return deliveredTo;
  }

  async receiveJourneyEvent(workflowId: string, body: z.infer<typeof EventBody>, actor?: Actor) {
    const journey = await this.db.journey.findUnique({ where: { workflowId }, include: { customer: { select: { erasedAt: true } } } });
    if (!journey || journey.customer.erasedAt) throw notFound('journey', workflowId);
    const seen = await this.db.inboundEvent.findUnique({ where: { eventId: body.eventId } });
    if (journey.status !== 'running' && !seen) throw conflict('journey_ended', `journey "${workflowId}" has ended (${journey.status})`);
    return this.receiveEvent(journey.customerId, body, workflowId, actor);
  }

  private async runningJourneys(customerId: string, where: Prisma.JourneyWhereInput = {}): Promise<string[]> {
    const rows = await this.db.journey.findMany({ where: { customerId, status: 'running', ...where }, select: { workflowId: true }, orderBy: { startedAt: 'asc' } });
    return rows.map((j) => j.workflowId);
  }

  private journeyData(type: string, data: Record<string, unknown>): Record<string, unknown> {
    return journeyEventData(this.deps.definitions.declaredFields(type), data);
  }

  /** Runs `send` on the journey's workflow; false when the workflow has ended meanwhile. */
  private async signalIfRunning(workflowId: string, send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void>): Promise<boolean> {
    try {
      await send(this.deps.temporal.workflow.getHandle(workflowId));
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  // ---- the journey chorus ----------------------------------------------------------------------------------------

  /** A journey starts another for its customer. Re-entry rules apply; a refusal is not an error. */
  async chorusStart(customerId: string, journeyKey: string, params?: Record<string, unknown>): Promise<string | undefined> {
    try {
      const r = await this.startJourney({ journeyKey, customerId, ...(params ? { params } : {}), via: 'journey' });
      return r.journey.workflowId;
    } catch (err) {
      if (err instanceof Conflict || err instanceof NotFound) return undefined;
      throw err;
    }
  }

  /** A journey sends an event to the customer's running journeys of a key. */
  async chorusSignal(customerId: string, journeyKey: string, sent: JourneyEvent): Promise<string[]> {
    // A journey passing its event's data on passes only what the catalogue declares for the event it sends.
    const event = { ...sent, data: this.journeyData(sent.type, sent.data) };
    const delivered: string[] = [];
    for (const id of await this.runningJourneys(customerId, { journeyKey })) if (await this.signalIfRunning(id, (h) => h.signal(journeyEventSignal, event))) delivered.push(id);
    return delivered;
  }

  /** A journey stops the customer's other running journeys of a key or carrying a tag. */
  async chorusStop(customerId: string, by: { journeyKey?: string; tag?: string }, reason: string, except: string): Promise<string[]> {
    const where: Prisma.JourneyWhereInput = { workflowId: { not: except }, ...(by.journeyKey ? { journeyKey: by.journeyKey } : {}), ...(by.tag ? { tags: { has: by.tag } } : {}) };
    const stopped: string[] = [];
    for (const id of await this.runningJourneys(customerId, where)) if (await this.signalIfRunning(id, (h) => h.signal(exitJourneySignal, { reason }))) stopped.push(id);
    return stopped;
  }

  // ---- reading and steering journeys -----------------------------------------------------------------------------

  /** Live from the workflow while it runs; from the read model once it has ended. */
  async getJourney(workflowId: string): Promise<JourneyView> {
    const row = await this.db.journey.findUnique({
      where: { workflowId },
      include: { transitions: { orderBy: { seq: 'asc' } } },
    });
    if (!row) throw notFound('journey', workflowId);
    if (row.status === 'running') {
      try {
        return await this.deps.temporal.workflow.getHandle(workflowId).query(journeyQuery);
      } catch {
        // The live view is a bonus: no worker to answer (the query waits out its deadline, or the server refuses it
        // while the task queue has no poller), Temporal down, the run just ended — the read model still answers.
      }
    }
    return {
      ...this.summary(row),
      status: row.status as JourneyView['status'],
      ...(row.exitReason !== null ? { endReason: row.exitReason } : {}),
      stage: row.stage,
      stageEnteredAt: row.stageEnteredAt.toISOString(),
      stageHistory: row.transitions.map((t) => ({ stage: t.toStage, enteredAt: t.enteredAt.toISOString(), cause: t.cause ?? '' })),
      goals: row.goals,
      cohort: row.cohort === 'control' ? 'control' : 'treated',
      waitingFor: [],
    };
  }

  async listCustomerJourneys(customerId: string) {
    await this.getCustomer(customerId);
    const rows = await this.db.journey.findMany({ where: { customerId }, orderBy: { startedAt: 'desc' } });
    return rows.map((r) => ({ ...this.summary(r), stageEnteredAt: r.stageEnteredAt, startedAt: r.startedAt, endedAt: r.endedAt, endReason: r.exitReason, goals: r.goals }));
  }

  /** The customer's timeline (service/timeline.ts): why they did, or did not, get each message. */
  async customerTimeline(customerId: string, q: z.infer<typeof TimelineQuery>) {
    return customerTimeline(this.db, customerId, q);
  }

  /** The customer's messages, newest first, each with its story (created, deferred, suppressed, sent, delivered…). */
  async listCustomerMessages(customerId: string, limit: number) {
    await this.getCustomer(customerId);
    const rows = await this.db.message.findMany({
      where: { customerId },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: limit,
      include: { events: { orderBy: [{ at: 'asc' }, { id: 'asc' }], select: { at: true, type: true, detail: true } } },
    });
    return rows;
  }

  async listMessages(q: z.infer<typeof MessageQuery>) {
    return this.db.message.findMany({
      where: { status: q.status },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: q.limit,
      select: { id: true, workflowId: true, customerId: true, channel: true, template: true, class: true, status: true, statusReason: true, deferredUntil: true, createdAt: true },
    });
  }

  async getMessage(messageId: string) {
    const row = await this.db.message.findUnique({
      where: { id: messageId },
      include: { events: { orderBy: [{ at: 'asc' }, { id: 'asc' }], select: { at: true, type: true, detail: true } } },
    });
    if (!row) throw notFound('message', messageId);
    return row;
  }

  async exitJourney(workflowId: string, reason: string) {
    const row = await this.db.journey.findUnique({ where: { workflowId } });
    if (!row) throw notFound('journey', workflowId);
    if (row.status !== 'running') throw conflict('journey_ended', `journey "${workflowId}" has ended (${row.status})`);
    if (!(await this.signalIfRunning(workflowId, (h) => h.signal(exitJourneySignal, { reason })))) throw conflict('journey_ended', `journey "${workflowId}" has ended`);
    return { workflowId, status: 'exiting', reason };
  }

  // ---- RM tasks --------------------------------------------------------------------------------------------------

  /** Tasks by due time, each with what the RM needs to act on it: the customer's name, the journey and its stage now,
   * and the outcomes the journey accepts (service/task-outcomes.ts). */
  async listTasks(q: z.infer<typeof TaskQuery>) {
    const rows = await this.db.task.findMany({
      where: {
        ...(q.rmId ? { OR: [{ rmId: q.rmId }, { escalatedTo: q.rmId }] } : {}),
        ...(q.customerId ? { customerId: q.customerId } : {}),
        ...(q.status ? { status: q.status } : {}),
      },
      orderBy: [{ dueAt: 'asc' }, { id: 'asc' }],
      take: 500,
    });
    return this.withContext(rows);
  }

  /** One task with its context, and why it exists: the journey's stage history and the events it received up to the
   * task (their types and times; their data stays out of the console). */
  async getTask(taskId: string) {
    const row = await this.db.task.findUnique({ where: { id: taskId } });
    if (!row) throw notFound('task', taskId);
    const [task] = await this.withContext([row]);
    const [transitions, events] = await Promise.all([
      this.db.stageTransition.findMany({ where: { workflowId: row.workflowId }, orderBy: { seq: 'asc' } }),
      this.db.inboundEvent.findMany({
        where: { customerId: row.customerId, receivedAt: { lte: row.createdAt }, OR: [{ deliveredTo: { has: row.workflowId } }, { workflowId: row.workflowId }] },
        orderBy: { receivedAt: 'desc' },
        take: 20,
        select: { eventId: true, type: true, occurredAt: true, receivedAt: true },
      }),
    ]);
    return {
      ...task!,
      stageHistory: transitions.map((t) => ({ stage: t.toStage, enteredAt: t.enteredAt.toISOString(), cause: t.cause ?? '' })),
      events: events.reverse(),
    };
  }

  private async withContext<T extends { customerId: string; workflowId: string; taskKey: string }>(rows: T[]) {
    const [customers, journeys] = await Promise.all([
      this.db.customer.findMany({ where: { id: { in: [...new Set(rows.map((r) => r.customerId))] } }, select: { id: true, name: true } }),
      this.db.journey.findMany({
        where: { workflowId: { in: [...new Set(rows.map((r) => r.workflowId))] } },
        select: { workflowId: true, journeyKey: true, version: true, stage: true, stageEnteredAt: true, status: true },
      }),
    ]);
    const nameOf = new Map(customers.map((c) => [c.id, c.name]));
    const journeyOf = new Map(journeys.map((j) => [j.workflowId, j]));
    const definitions = new Map<string, Promise<JourneyDefinition | undefined>>();
    const definitionOf = (key: string, version: number) => {
      const id = `${key}@${version}`;
      if (!definitions.has(id))
        definitions.set(
          id,
          this.deps.definitions.get(key, version).then(
            (d) => d.definition,
            () => undefined,
          ),
        );
      return definitions.get(id)!;
    };
    return Promise.all(
      rows.map(async (r) => {
        const j = journeyOf.get(r.workflowId);
        const def = j ? await definitionOf(j.journeyKey, j.version) : undefined;
        const accepted = def ? acceptedOutcomes(def, r.taskKey) : { outcomes: [], acceptsOther: true };
        return {
          ...r,
          customerName: nameOf.get(r.customerId) ?? null,
          journeyKey: j?.journeyKey ?? null,
          journeyVersion: j?.version ?? null,
          journeyStatus: j?.status ?? null,
          stage: j?.stage ?? null,
          stageEnteredAt: j?.stageEnteredAt ?? null,
          ...accepted,
        };
      }),
    );
  }

  /** An rm's customers (every customer for other roles), each with their journeys and the next open task: the RM's
   * book of customers at a glance. Erased customers are left out. */
  async listCustomers(q: { rmId?: string; limit: number }) {
    const customers = await this.db.customer.findMany({
      where: { erasedAt: null, ...(q.rmId !== undefined ? { rmId: q.rmId } : {}) },
      orderBy: { id: 'asc' },
      take: q.limit,
      select: { id: true, name: true, rmId: true, segment: true, locale: true },
    });
    const ids = customers.map((c) => c.id);
    const [journeys, tasks] = await Promise.all([
      this.db.journey.findMany({ where: { customerId: { in: ids } }, orderBy: { startedAt: 'desc' } }),
      this.db.task.findMany({ where: { customerId: { in: ids }, status: 'open' }, orderBy: [{ dueAt: 'asc' }, { id: 'asc' }] }),
    ]);
    return customers.map((c) => {
      const next = tasks.find((t) => t.customerId === c.id);
      return {
        ...c,
        journeys: journeys.filter((j) => j.customerId === c.id).map((j) => ({ ...this.summary(j), stageEnteredAt: j.stageEnteredAt, startedAt: j.startedAt, endedAt: j.endedAt })),
        nextAction: next ? { taskId: next.id, title: next.title, dueAt: next.dueAt, escalated: next.escalatedTo !== null } : null,
      };
    });
  }

  /** The outcome goes to the journey first (it ignores a repeat), then the task is closed: a failure in between
   * leaves the task open to complete again, never an outcome the journey did not get. */
  async completeTask(taskId: string, body: z.infer<typeof CompleteTaskBody>) {
    const task = await this.db.task.findUnique({ where: { id: taskId } });
    if (!task) throw notFound('task', taskId);
    if (task.status !== 'open') throw conflict('task_closed', `task "${taskId}" is already ${task.status}`);
    // An outcome the journey has no branch for would be taken silently (or sent down `default` by mistake): refused.
    const { outcomes, acceptsOther } = (await this.withContext([task]))[0]!;
    if (!acceptsOther && !outcomes.includes(body.outcome))
      throw new Unprocessable('unknown_outcome', `the journey accepts ${outcomes.map((o) => `"${o}"`).join(', ')} for task "${task.taskKey}", not "${body.outcome}"`, {
        outcomes,
      });
    // The journey may have ended; the task can still be closed.
    await this.signalIfRunning(task.workflowId, (h) => h.signal(taskCompletedSignal, { taskId, taskKey: task.taskKey, taskRef: task.idempotencyKey, outcome: body.outcome }));
    const closed = await this.db.task.updateMany({
      where: { id: taskId, status: 'open' },
      data: { status: 'done', outcome: body.outcome, note: body.note ?? null, completedAt: new Date() },
    });
    if (closed.count === 0) throw conflict('task_closed', `task "${taskId}" was completed meanwhile`);
    return this.db.task.findUniqueOrThrow({ where: { id: taskId } });
  }
}
