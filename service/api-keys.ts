// API keys: made here (shown once), stored as a hash, looked up by the authenticator, listed and revoked.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { ROLES, type Principal, type Role } from './principal.js';
import { Invalid, notFound } from './errors.js';

/** Keys this service makes start with this, so a leaked one is recognisable (secret scanners, logs). */
export const KEY_PREFIX = 'jk_';
/** Keys given by configuration (API_KEYS) must be at least this long. */
export const MIN_KEY_LENGTH = 24;
/** How many characters of a key are kept in clear to recognise it by: the prefix and 6 random characters. */
const DISPLAY_CHARS = KEY_PREFIX.length + 6;
/** `last_used_at` is written at most this often per key, so an API under load does not write a row per request. */
const TOUCH_EVERY_MS = 60_000;

/**
 * A plain SHA-256 of the key, no salt or slow hash: a key is 32 random bytes (or, from configuration, at least 24
 * characters chosen by the operator), so there is nothing to guess by brute force or a dictionary, and a fast hash lets
 * every request be checked by one indexed lookup. (Passwords, which people choose, would need a slow salted hash.)
 */
export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** A fresh key: `jk_` and 32 random bytes, base64url (256 bits). */
export const newKey = () => `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;

/** Whom a key stands for; an rm key, and only an rm key, names its RM. */
const holder = { role: z.enum(ROLES), rmId: z.string().trim().min(1).max(128).optional(), name: z.string().trim().min(1).max(200).optional() };
const rmIdRule = <T extends z.ZodType<{ role: string; rmId?: string | undefined }>>(schema: T) =>
  schema
    .refine((k) => k.role !== 'rm' || k.rmId !== undefined, { message: 'an rm key needs an rmId', path: ['rmId'] })
    .refine((k) => k.role === 'rm' || k.rmId === undefined, { message: 'only an rm key has an rmId', path: ['rmId'] });

export const KeySpec = rmIdRule(z.object(holder).strict());
export type KeySpec = z.infer<typeof KeySpec>;

/** A key given by configuration: the key itself and whom it stands for. */
export const ConfiguredKey = rmIdRule(z.object({ key: z.string().min(MIN_KEY_LENGTH, `a key must be at least ${MIN_KEY_LENGTH} characters`).max(512), ...holder }).strict());
export type ConfiguredKey = z.infer<typeof ConfiguredKey>;

/** What a list shows of a key: never the key or its hash. */
export interface KeyInfo {
  id: string;
  name: string | null;
  role: Role;
  rmId: string | null;
  prefix: string;
  createdAt: Date;
  createdBy: string | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const INFO = { id: true, name: true, role: true, rmId: true, prefix: true, createdAt: true, createdBy: true, revokedAt: true, lastUsedAt: true } as const;

export class ApiKeyStore {
  private readonly touched = new Map<string, number>();
  constructor(private readonly db: Db) {}

  /** Makes a key; the answer is the only time the key itself is seen. */
  async create(spec: KeySpec, createdBy: string): Promise<KeyInfo & { key: string }> {
    const s = KeySpec.parse(spec);
    const key = newKey();
    const row = await this.db.apiKey.create({
      data: { role: s.role, rmId: s.rmId ?? null, name: s.name ?? null, keyHash: hashKey(key), prefix: key.slice(0, DISPLAY_CHARS), createdBy },
      select: INFO,
    });
    return { ...(row as KeyInfo), key };
  }

  /** Stores keys given by configuration (by hash: a key given again updates its role, RM and name, and un-revokes it). */
  async upsertConfigured(keys: ConfiguredKey[]): Promise<void> {
    for (const k of keys) {
      const keyHash = hashKey(k.key);
      const fields = { role: k.role, rmId: k.rmId ?? null, name: k.name ?? null, revokedAt: null };
      await this.db.apiKey.upsert({
        where: { keyHash },
        create: { ...fields, keyHash, prefix: k.key.slice(0, Math.min(DISPLAY_CHARS, k.key.length - 16)), createdBy: 'config' },
        update: fields,
      });
    }
  }

  async list(): Promise<KeyInfo[]> {
    return (await this.db.apiKey.findMany({ select: INFO, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })) as KeyInfo[];
  }

  /** Revokes a key (idempotent); it authenticates nothing from then on. */
  async revoke(id: string): Promise<KeyInfo> {
    if (!z.uuid().safeParse(id).success) throw notFound('API key', id);
    const row = await this.db.apiKey.findUnique({ where: { id }, select: INFO });
    if (!row) throw notFound('API key', id);
    if (row.revokedAt) return row as KeyInfo;
    return (await this.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() }, select: INFO })) as KeyInfo;
  }

  /** The principal a key stands for, or undefined for an unknown or revoked key. */
  async authenticate(key: string): Promise<Principal | undefined> {
    if (key.length < MIN_KEY_LENGTH || key.length > 512) return undefined;
    const row = await this.db.apiKey.findUnique({ where: { keyHash: hashKey(key) }, select: { id: true, role: true, rmId: true, name: true, revokedAt: true } });
    if (!row || row.revokedAt || !(ROLES as readonly string[]).includes(row.role)) return undefined;
    this.touch(row.id);
    return { id: row.id, role: row.role as Role, ...(row.rmId ? { rmId: row.rmId } : {}), ...(row.name ? { name: row.name } : {}), via: 'api_key' };
  }

  /** Records when a key was last used, at most once a minute per key, without holding up the request. */
  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    this.db.apiKey.update({ where: { id }, data: { lastUsedAt: new Date(now) } }).catch(() => this.touched.delete(id));
  }
}

/** Checks a role name from outside (a CLI flag). */
export function parseRole(raw: string): Role {
  if ((ROLES as readonly string[]).includes(raw)) return raw as Role;
  throw new Invalid('invalid_role', `role must be one of ${ROLES.join(', ')}`);
}
