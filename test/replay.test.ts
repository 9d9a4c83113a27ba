// Replays committed workflow histories against the current workflow code: a change that would break a running
// journey (non-determinism) fails here, before it reaches a worker. Refresh with RECORD_HISTORIES=1 (workflow.test.ts)
// only when the change is meant to be incompatible and is guarded by patched().
import { readdir, readFile } from 'node:fs/promises';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../config/logger.js';
import { installRuntimeLogger } from '../worker/run.js';
import { testDataConverter, workflowBundle } from './support/stack.js';

installRuntimeLogger(createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test'));

const dir = new URL('./histories/', import.meta.url);

describe('replay of committed histories', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();

  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('has a history of every workflow the worker runs', async () => {
    const exported = [...(await readFile(new URL('../workflows/index.ts', import.meta.url), 'utf8')).matchAll(/export \{ (\w+) \}/g)].map((m) => m[1]!);
    expect(exported).toContain('enrolmentWorkflow');
    const recorded = new Set<string>();
    for (const file of files) {
      const history = JSON.parse(await readFile(new URL(file, dir), 'utf8')) as { events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[] };
      recorded.add(history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '');
    }
    expect(exported.filter((w) => !recorded.has(w))).toEqual([]);
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(await readFile(new URL(file, dir), 'utf8')));
    // The data converter of the test stack that records histories: encrypted ones open with its key, older plain
    // ones pass through.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: testDataConverter() }, history, file.replace(/\.json$/, ''));
  });
});
