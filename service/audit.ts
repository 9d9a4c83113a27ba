// What happened: the append-only audit log. One entry per state-changing request and per read of a customer's
// personal data, naming who (principal id and role), what (action), on what (target type and id), how it ended
// (outcome and HTTP status) and in which request. Entries hold ids, never personal data, so erasing a customer never
// needs to touch them; Postgres itself refuses to update or delete one (a trigger).
import { z } from 'zod';
import { type Db, Prisma } from '../db/client.js';

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  principalId: string;
  role: string;
  /** What was done, e.g. `customer.put`, `journey.start`, `definition.publish`, `customer.read`. */
  action: string;
  targetType?: string;
  targetId?: string;
  outcome: AuditOutcome;
  /** The HTTP status it was answered with (none for a change made outside a request). */
  status?: number;
  requestId?: string;
  /** Ids, keys, versions and codes only: no names, numbers, addresses or free text. */
  detail?: Record<string, unknown>;
}

/** The outcome an HTTP status stands for. */
export const outcomeOf = (status: number): AuditOutcome => (status >= 500 ? 'failed' : status >= 400 ? 'refused' : 'ok');

const time = z.iso.datetime({ offset: true });
const text = z.string().min(1).max(200);

export const AuditQuery = z
  .object({
    principal: text.optional(),
    /** A target id (a customer id, a workflow id, `key@version`…). */
    target: text.optional(),
    /** An action, or every action under a prefix: `customer.*`. */
    action: z
      .string()
      .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?$/, 'an action like customer.put, or a prefix like customer.*')
      .max(100)
      .optional(),
    from: time.optional(),
    to: time.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), { message: '"from" must not be after "to"', path: ['to'] });
export type AuditQuery = z.infer<typeof AuditQuery>;

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.recordMany([entry]);
  }

  /** Several entries in one statement (the request trail writes what finished meanwhile together). */
  async recordMany(entries: AuditEntry[]): Promise<void> {
    await this.db.auditLog.createMany({
      data: entries.map((entry) => ({
        principalId: entry.principalId,
        role: entry.role,
        action: entry.action,
        targetType: entry.targetType ?? null,
        targetId: entry.targetId ?? null,
        outcome: entry.outcome,
        status: entry.status ?? null,
        requestId: entry.requestId ?? null,
        detail: (entry.detail ?? {}) as Prisma.InputJsonValue,
      })),
    });
  }

  /** Entries matching every filter given, newest first. */
  async query(q: AuditQuery) {
    const action = q.action?.endsWith('.*') ? { startsWith: q.action.slice(0, -1) } : q.action;
    const rows = await this.db.auditLog.findMany({
      where: {
        ...(q.principal !== undefined ? { principalId: q.principal } : {}),
        ...(q.target !== undefined ? { targetId: q.target } : {}),
        ...(action !== undefined ? { action } : {}),
        ...(q.from !== undefined || q.to !== undefined
          ? { at: { ...(q.from !== undefined ? { gte: new Date(q.from) } : {}), ...(q.to !== undefined ? { lte: new Date(q.to) } : {}) } }
          : {}),
      },
      orderBy: { id: 'desc' },
      take: q.limit,
    });
    return rows.map(({ id, ...r }) => ({ id: String(id), ...r }));
  }
}
