// The database idioms written once: what a duplicate key looks like, and "take the next version number; if a concurrent
// writer took it first, read again and take the one after".
import { Prisma } from './client.js';

/** A write refused by a unique constraint (Prisma's P2002): the row, or a row with the same key, is already there. */
export const isUniqueViolation = (err: unknown): boolean => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

/** How often a next-version insert is tried again after losing the number to a concurrent writer. */
export const NEXT_VERSION_RETRIES = 5;

/**
 * Inserts the next version of something versioned per key: `last()` reads the highest version stored (undefined: none
 * yet) and `insert(version)` writes that plus one. Two writers of one key at once: the loser's insert hits the key's
 * unique constraint and it tries again with the number after the winner's, up to `NEXT_VERSION_RETRIES` times; any
 * other error (and the last duplicate) is thrown.
 */
export async function insertNextVersion<T>(last: () => Promise<number | undefined>, insert: (version: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const version = ((await last()) ?? 0) + 1;
    try {
      return await insert(version);
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= NEXT_VERSION_RETRIES) throw err;
    }
  }
}
