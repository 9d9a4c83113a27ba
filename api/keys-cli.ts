// `npm run keys -- create --role <role> [--rm-id <id>] [--name <text>]` prints a new API key once;
// `npm run keys -- list` lists the keys (never the keys themselves); `npm run keys -- revoke <id>` revokes one.
// Against DATABASE_URL, migrated first.
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { createDb } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { ApiKeyStore, KeySpec } from '../service/api-keys.js';
import { DomainError } from '../service/errors.js';

const USAGE = 'usage: npm run keys -- create --role <system|rm|designer|ops|admin> [--rm-id <id>] [--name <text>] | list | revoke <id>';

const fail = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(2);
};

const { positionals, values } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: { role: { type: 'string' }, 'rm-id': { type: 'string' }, name: { type: 'string' } } });
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
})();
const [command, ...rest] = positionals;
if (!command || !['create', 'list', 'revoke'].includes(command)) fail(USAGE);

const config = loadConfigOrExit();
const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, 'keys');
await migrate(config.databaseUrl, logger);
const db = createDb(config.databaseUrl, 1);
const keys = new ApiKeyStore(db);
try {
  if (command === 'create') {
    const spec = KeySpec.safeParse({ role: values.role, ...(values['rm-id'] ? { rmId: values['rm-id'] } : {}), ...(values.name ? { name: values.name } : {}) });
    if (!spec.success) fail(`${spec.error.issues.map((i) => `${i.path.join('.') || 'key'}: ${i.message}`).join('; ')}\n${USAGE}`);
    const made = await keys.create(spec.data!, 'cli');
    process.stdout.write(`${made.key}\n`);
    process.stderr.write(`API key ${made.id} (${made.role}${made.rmId ? ` for ${made.rmId}` : ''}) made. It is shown only this once: keep it now.\n`);
  } else if (command === 'list') {
    for (const k of await keys.list())
      process.stdout.write(
        `${[k.id, k.role.padEnd(8), k.rmId ?? '-', `${k.prefix}…`, k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active', k.lastUsedAt ? `used ${k.lastUsedAt.toISOString()}` : 'never used', k.name ?? ''].join('  ')}\n`,
      );
  } else {
    const id = rest[0] ?? fail(USAGE);
    const k = await keys.revoke(id);
    process.stdout.write(`API key ${k.id} revoked at ${k.revokedAt!.toISOString()}\n`);
  }
} catch (err) {
  if (!(err instanceof DomainError)) throw err;
  fail(err.message);
} finally {
  await db.$disconnect();
}
