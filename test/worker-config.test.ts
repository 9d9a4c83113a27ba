// The worker's tuning comes from validated configuration: each setting given reaches the worker's options, none given
// leaves the SDK's defaults, and a value the SDK would refuse (or a typo) stops start-up with the variable named.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';

describe('worker tuning configuration', () => {
  it('is empty when nothing is set: the SDK decides', () => {
    expect(loadConfig({}).worker).toEqual({});
  });

  it('carries each setting given, as the worker option of its name', () => {
    expect(
      loadConfig({
        WORKER_MAX_CACHED_WORKFLOWS: '2000',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '80',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '50',
        WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: '60',
        WORKER_REUSE_V8_CONTEXT: 'false',
      }).worker,
    ).toEqual({
      maxCachedWorkflows: 2000,
      maxConcurrentWorkflowTaskExecutions: 80,
      maxConcurrentActivityTaskExecutions: 50,
      maxConcurrentLocalActivityExecutions: 60,
      reuseV8Context: false,
    });
  });

  it.each([
    ['WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', '1'],
    ['WORKER_MAX_CACHED_WORKFLOWS', '-1'],
    ['WORKER_MAX_CONCURRENT_ACTIVITIES', 'many'],
    ['WORKER_REUSE_V8_CONTEXT', 'yes'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
