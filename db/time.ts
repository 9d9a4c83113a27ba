// Instants in raw SQL, written once: the tables store timestamps without time zone, in UTC.
import { Prisma } from './client.js';

/** An instant as the tables store it (timestamp without time zone, UTC), whatever the session's zone; null stays
 * null. Compared with a column or written to one, it means the same instant in every session. */
export const utc = (at: Date | null) => Prisma.sql`(${at ? at.toISOString() : null}::timestamptz AT TIME ZONE 'UTC')`;
