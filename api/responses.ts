// What the REST API answers, as zod shapes for the OpenAPI document (api/openapi.ts). The request shapes are the
// validators of service/schemas.ts; these describe the answers and are checked against real answers in
// test/openapi.test.ts. Objects are open (`looseObject`): they name the fields a client may rely on, and a field added
// later does not make the document wrong.
import { z } from 'zod';
import { ROLES } from '../service/principal.js';
import { CHANNEL_NAMES } from '../engine/channels.js';
import { ADDRESS_COLUMNS, type AddressColumn } from '../channels/registry.js';

const time = z.iso.datetime({ offset: true });
const nullableTime = time.nullable();

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'A stable, machine-readable reason, e.g. invalid_request, not_found, forbidden' }),
      message: z.string().meta({ description: 'What went wrong, for a person; never personal data of anyone but the caller' }),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });

export const Health = z.looseObject({ status: z.string() });
export const Readiness = z.looseObject({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.string()) });

export const Customer = z
  .looseObject({
    id: z.string(),
    name: z.string().nullable(),
    ...(Object.fromEntries(ADDRESS_COLUMNS.map((a) => [a.column, z.string().nullable()])) as Record<AddressColumn, z.ZodNullable<z.ZodString>>),
    timeZone: z.string().nullable(),
    locale: z.string(),
    segment: z.string().nullable(),
    rmId: z.string().nullable(),
    consents: z.record(z.string(), z.boolean()),
    attributes: z.record(z.string(), z.unknown()),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ id: 'Customer' });

export const Erasure = z.looseObject({ customerId: z.string(), erasedAt: time, journeysExited: z.array(z.string()) });

export const EventReceipt = z
  .looseObject({ eventId: z.string(), duplicate: z.boolean(), deliveredTo: z.array(z.string()).meta({ description: 'The journeys (workflow ids) the event reached' }) })
  .meta({ id: 'EventReceipt' });

const JourneyStatus = z.enum(['running', 'completed', 'exited', 'failed']);
export const JourneySummary = z
  .looseObject({
    workflowId: z.string(),
    journeyKey: z.string(),
    version: z.number().int(),
    customerId: z.string(),
    businessKey: z.string().optional(),
    stage: z.string(),
    status: JourneyStatus,
  })
  .meta({ id: 'JourneySummary' });

export const Journey = JourneySummary.extend({
  endReason: z.string().optional(),
  stageEnteredAt: time,
  stageHistory: z.array(z.looseObject({ stage: z.string(), enteredAt: time, cause: z.string() })),
  goals: z.array(z.string()),
  waitingFor: z.array(z.string()),
  nextTimerAt: time.optional(),
}).meta({ id: 'Journey' });

export const CustomerJourneys = z.looseObject({
  journeys: z.array(JourneySummary.extend({ stageEnteredAt: time, startedAt: time, endedAt: nullableTime, endReason: z.string().nullable(), goals: z.array(z.string()) })),
});

export const Exiting = z.looseObject({ workflowId: z.string(), status: z.literal('exiting'), reason: z.string() });

const MessageEvent = z.looseObject({ at: time, type: z.string(), detail: z.unknown() });
export const Message = z
  .looseObject({
    id: z.uuid(),
    workflowId: z.string(),
    customerId: z.string(),
    channel: z.enum(CHANNEL_NAMES),
    template: z.string(),
    class: z.string(),
    status: z.string().meta({ description: 'pending, deferred, sending, sent, delivered, failed, suppressed or dropped' }),
    statusReason: z.string().nullable(),
    createdAt: time,
    sentAt: nullableTime,
    deliveredAt: nullableTime,
    events: z.array(MessageEvent).meta({ description: "The message's story: every policy decision and delivery step" }),
  })
  .meta({ id: 'Message' });
export const Messages = z.looseObject({ messages: z.array(Message) });

export const Task = z
  .looseObject({
    id: z.string(),
    workflowId: z.string(),
    customerId: z.string(),
    taskKey: z.string(),
    rmId: z.string().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    dueAt: time,
    status: z.enum(['open', 'done']),
    outcome: z.string().nullable(),
    escalatedTo: z.string().nullable(),
    createdAt: time,
    completedAt: nullableTime,
  })
  .meta({ id: 'Task' });
export const Tasks = z.looseObject({ tasks: z.array(Task) });

export const JsonSchema = z.record(z.string(), z.unknown()).meta({ description: 'A JSON Schema document' });
export const Validation = z.looseObject({ valid: z.boolean() });
export const Simulation = z.record(z.string(), z.unknown()).meta({ description: 'The virtual-time timeline of the simulated journey' });

export const DefinitionVersion = z.looseObject({ key: z.string(), version: z.number().int(), status: z.enum(['draft', 'published', 'retired']) }).meta({ id: 'DefinitionVersion' });
export const Definitions = z.looseObject({ definitions: z.array(z.looseObject({ key: z.string() })) });
export const Publication = DefinitionVersion.extend({ previousVersion: z.number().int().nullable(), diff: z.array(z.unknown()) });

const Move = { stage: z.object({ from: z.string(), to: z.string() }), steps: z.array(z.object({ from: z.string(), to: z.string() })) };
/** A dry run: every running journey in scope was checked; the first 1000 are listed with where each lands. */
export const MigrationPlan = z.looseObject({
  dryRun: z.literal(true),
  journeyKey: z.string(),
  fromVersion: z.number().int(),
  toVersion: z.number().int(),
  total: z.number().int(),
  journeys: z.array(z.looseObject({ workflowId: z.string(), ...Move })),
  truncated: z.boolean(),
});
export const MigrationStarted = z.looseObject({ migrationId: z.uuid(), total: z.number().int(), status: z.literal('running') });
export const MigrationProgress = z.looseObject({
  migrationId: z.uuid(),
  journeyKey: z.string(),
  fromVersion: z.number().int(),
  toVersion: z.number().int(),
  status: z.enum(['running', 'completed', 'failed']),
  total: z.number().int(),
  pending: z.number().int(),
  migrated: z.number().int(),
  skipped: z.object({ count: z.number().int(), reasons: z.array(z.object({ reason: z.string(), count: z.number().int() })) }),
  failed: z.number().int(),
  createdBy: z.string(),
  createdAt: time,
  finishedAt: nullableTime,
});

/** A bulk enrolment's progress: counts per outcome, exact (one stored outcome per customer). */
export const EnrolmentProgress = z.looseObject({
  id: z.uuid(),
  journeyKey: z.string(),
  status: z.enum(['open', 'running', 'paused', 'completed', 'cancelled']),
  ratePerSecond: z.number().int(),
  filter: z.looseObject({ segment: z.string().optional(), rmId: z.string().optional() }).nullable(),
  total: z.number().int(),
  pending: z.number().int(),
  started: z.number().int(),
  skipped: z.record(z.string(), z.number().int()),
  failed: z.number().int(),
  failures: z.record(z.string(), z.number().int()),
  createdBy: z.string(),
  createdAt: time,
  startedAt: nullableTime,
  finishedAt: nullableTime,
});
export const Enrolments = z.looseObject({ enrolments: z.array(EnrolmentProgress) });
export const EnrolmentPageAdded = z.looseObject({ id: z.uuid(), added: z.number().int(), total: z.number().int() });

export const Template = z
  .looseObject({ key: z.string(), channel: z.enum(CHANNEL_NAMES), locale: z.string(), version: z.number().int(), status: z.string() })
  .meta({ id: 'Template' });
export const Templates = z.looseObject({ templates: z.array(Template) });
export const TemplateVersions = z.looseObject({ versions: z.array(Template) });
export const TemplatePublication = Template.extend({ previousVersion: z.number().int().nullable(), diff: z.array(z.unknown()) });
export const Preview = z.record(z.string(), z.unknown()).meta({ description: 'The rendered subject and text' });

export const AuditEntries = z.looseObject({
  entries: z.array(z.looseObject({ principalId: z.string(), role: z.string(), action: z.string(), outcome: z.string(), status: z.number().int(), at: time })),
});

const KeyInfo = z.looseObject({
  id: z.string(),
  name: z.string().nullable(),
  role: z.enum(ROLES),
  rmId: z.string().nullable(),
  prefix: z.string(),
  createdAt: time,
  revokedAt: nullableTime,
});
export const ApiKeyInfo = KeyInfo.meta({ id: 'ApiKey' });
export const ApiKeyMade = KeyInfo.extend({ key: z.string().meta({ description: 'The key itself: shown this once, stored only as a hash' }) });
export const ApiKeys = z.looseObject({ keys: z.array(ApiKeyInfo) });

export const CodecPayloads = z.object({ payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).nullish(), data: z.string().nullish() })) });

export const Timeline = z
  .looseObject({
    customerId: z.string(),
    entries: z.array(
      z.looseObject({
        at: time,
        kind: z.enum([
          'event',
          'stage',
          'branch',
          'split',
          'holdout',
          'goal',
          'feedback',
          'failure',
          'migration',
          'migration_refused',
          'send',
          'send_skipped',
          'task_created',
          'task_escalated',
          'task_outcome',
          'ended',
        ]),
        journey: z.looseObject({ workflowId: z.string(), journeyKey: z.string(), version: z.number().int() }).optional(),
        step: z.string().optional(),
        summary: z.string(),
        detail: z.record(z.string(), z.unknown()),
      }),
    ),
    truncated: z.boolean().meta({ description: 'Entries past `limit` were left out: ask again with `from` = `nextFrom`' }),
    nextFrom: time.optional(),
  })
  .meta({ id: 'Timeline' });
