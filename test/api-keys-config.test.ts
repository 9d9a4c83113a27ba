// Keys given by configuration: API_KEYS is validated at start-up (never quoting a key in its error), and stored by hash,
// so a key given again on the next start updates its row instead of adding one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import { ApiKeyStore, hashKey } from '../service/api-keys.js';
import { createTestDb, type TestDb } from './support/db.js';

const KEY = 'cfg-key-0123456789abcdefghij';

describe('API_KEYS', () => {
  it('a valid list is loaded', () => {
    const keys = [
      { key: KEY, role: 'system', name: 'core banking' },
      { key: `${KEY}-rm`, role: 'rm', rmId: 'rm-7' },
    ];
    expect(loadConfig({ API_KEYS: JSON.stringify(keys) }).apiKeys).toEqual(keys);
    expect(loadConfig({}).apiKeys).toEqual([]);
  });

  it.each([
    ['not JSON', `[{"key": "${KEY}", `, 'not valid JSON'],
    ['a short key', JSON.stringify([{ key: 'short-secret-key', role: 'ops' }]), 'at least 24 characters'],
    ['an unknown role', JSON.stringify([{ key: KEY, role: 'root' }]), 'API_KEYS: 0.role'],
    ['an rm key without an rmId', JSON.stringify([{ key: KEY, role: 'rm' }]), 'an rm key needs an rmId'],
    ['an object, not a list', JSON.stringify({ key: KEY, role: 'ops' }), 'API_KEYS'],
  ])('%s stops start-up with a reason that does not quote the key', (_name, raw, reason) => {
    let error: unknown;
    try {
      loadConfig({ API_KEYS: raw });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(reason);
    expect((error as Error).message).not.toContain('short-secret-key');
    expect((error as Error).message).not.toContain(KEY);
  });
});

describe('configured keys in Postgres', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('are stored by hash; given again they are updated (and un-revoked), not duplicated', async () => {
    const store = new ApiKeyStore(testDb.db);
    await store.upsertConfigured([{ key: KEY, role: 'system' }]);
    expect(await store.authenticate(KEY)).toMatchObject({ role: 'system', via: 'api_key' });
    const [row] = await testDb.db.apiKey.findMany();
    expect(row).toMatchObject({ keyHash: hashKey(KEY), createdBy: 'config' });
    expect(JSON.stringify(row)).not.toContain(KEY);
    await store.revoke(row!.id);
    expect(await store.authenticate(KEY)).toBeUndefined();

    await store.upsertConfigured([{ key: KEY, role: 'rm', rmId: 'rm-7', name: 'desk' }]);
    expect(await testDb.db.apiKey.count()).toBe(1);
    expect(await store.authenticate(KEY)).toEqual({ id: row!.id, role: 'rm', rmId: 'rm-7', name: 'desk', via: 'api_key' });
  });
});
