// What an `rm` principal may see: customers whose `rmId` is theirs, those customers' journeys and messages, and the tasks
// assigned or escalated to them — and, while a task escalated to them is open, that task's customer (the 360 the task
// page links to: the escalation hands the follow-up over, and the RM cannot follow up blind). Anything else reads exactly as missing (the same 404 and message as an id that does
// not exist), so an RM cannot learn that another RM's customer exists. Every other role passes unscoped.
import type { Db } from '../db/client.js';
import type { Principal } from './principal.js';
import { notFound } from './errors.js';

/** The RM a principal is scoped to, or undefined when it sees every customer. An `rm` principal without an rmId sees
 * nothing (an RM key is always made with one; a token without the claim gets an id no customer has). */
const scopedTo = (p: Principal): string | undefined => (p.role === 'rm' ? (p.rmId ?? '\u0000none') : undefined);

export class RmScope {
  constructor(private readonly db: Db) {}

  /** The RM whose customers a list shows this principal, or undefined for all of them. */
  listFilter(p: Principal): { rmId?: string } {
    const rmId = scopedTo(p);
    return rmId === undefined ? {} : { rmId };
  }

  async customer(p: Principal, customerId: string): Promise<void> {
    const rmId = scopedTo(p);
    if (rmId === undefined) return;
    const row = await this.db.customer.findUnique({ where: { id: customerId }, select: { rmId: true } });
    if (row && row.rmId === rmId) return;
    const handedOver = row ? await this.db.task.count({ where: { customerId, escalatedTo: rmId, status: 'open' } }) : 0;
    if (handedOver === 0) throw notFound('customer', customerId);
  }

  async journey(p: Principal, workflowId: string): Promise<void> {
    const rmId = scopedTo(p);
    if (rmId === undefined) return;
    const row = await this.db.journey.findUnique({ where: { workflowId }, select: { customer: { select: { rmId: true } } } });
    if (row?.customer.rmId !== rmId) throw notFound('journey', workflowId);
  }

  async message(p: Principal, messageId: string): Promise<void> {
    const rmId = scopedTo(p);
    if (rmId === undefined) return;
    const row = await this.db.message.findUnique({ where: { id: messageId }, select: { customer: { select: { rmId: true } } } });
    if (row?.customer.rmId !== rmId) throw notFound('message', messageId);
  }

  /** A task is an RM's when it is assigned to them or was escalated to them. */
  async task(p: Principal, taskId: string): Promise<void> {
    const rmId = scopedTo(p);
    if (rmId === undefined) return;
    const row = await this.db.task.findUnique({ where: { id: taskId }, select: { rmId: true, escalatedTo: true } });
    if (!row || (row.rmId !== rmId && row.escalatedTo !== rmId)) throw notFound('task', taskId);
  }

  /** The RM whose customers' journeys a list may hold, or undefined for every customer's. */
  rmIdOf(p: Principal): string | undefined {
    return scopedTo(p);
  }

  /** The task list's `rmId` filter for this principal: an RM's list is always their own (another RM's id lists nothing). */
  taskFilter<Q extends { rmId?: string }>(p: Principal, q: Q): Q | undefined {
    const rmId = scopedTo(p);
    if (rmId === undefined) return q;
    if (q.rmId !== undefined && q.rmId !== rmId) return undefined;
    return { ...q, rmId };
  }
}
