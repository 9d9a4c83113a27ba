// The lint fence holds: the project's own ESLint config, run through ESLint's API on small snippets, refuses what would
// break the workflow bundle or lose an error, and passes clean code. The snippets are linted as if they were the
// contents of real files of the project (the type-aware rules need a file the TypeScript project knows).
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

/** The rules that fired on `code` linted as `filePath` (a fatal parse error shows as `parse: <message>`). */
async function rulesFired(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.severity === 2).map((m) => m.ruleId ?? `parse: ${m.message}`);
}

// Loading the TypeScript project for the type-aware rules takes seconds: once, before the timed tests.
beforeAll(async () => {
  await eslint.lintText('export {};\n', { filePath: 'engine/engine.ts' });
});

const WORKFLOW_FILE = 'workflows/journey.ts';
const ENGINE_FILE = 'engine/engine.ts';
const API_FILE = 'api/app.ts';

describe('the workflow bundle fence', () => {
  it.each([
    ['a node: built-in', WORKFLOW_FILE, "import fs from 'node:fs';\nexport const read = fs.readFileSync;\n"],
    ['a bare built-in', WORKFLOW_FILE, "import { join } from 'path';\nexport const j = join;\n"],
    ['a built-in subpath', ENGINE_FILE, "import { readFile } from 'fs/promises';\nexport const r = readFile;\n"],
    ['zod', ENGINE_FILE, "import { z } from 'zod';\nexport const s = z.string();\n"],
    ['the definition schema as a value', ENGINE_FILE, "import { JourneyDefinition } from './definition.js';\nexport const d = JourneyDefinition;\n"],
    ["a node kind's schema as a value", 'engine/kinds/send.ts', "import { Step } from './schemas.js';\nexport const s = Step;\n"],
    ['the database client', WORKFLOW_FILE, "import { createDb } from '../db/client.js';\nexport const c = createDb;\n"],
    ['Prisma', WORKFLOW_FILE, "import { PrismaClient } from '@prisma/client';\nexport const p = PrismaClient;\n"],
    ['pg', ENGINE_FILE, "import pg from 'pg';\nexport const p = pg;\n"],
    ['a channel', WORKFLOW_FILE, "import { createEmailChannel } from '../channels/email.js';\nexport const e = createEmailChannel;\n"],
    ['activities as values', WORKFLOW_FILE, "import { createActivities } from '../activities/index.js';\nexport const a = createActivities;\n"],
    ['the service layer', WORKFLOW_FILE, "import { JourneyService } from '../service/journeys.js';\nexport const s = JourneyService;\n"],
  ])('refuses %s in workflow or engine code', async (_what, filePath, code) => {
    expect(await rulesFired(code, filePath)).toEqual(['@typescript-eslint/no-restricted-imports']);
  });

  it('allows type-only imports of activities and of the definition schema in workflow code', async () => {
    const code = [
      "import type { JourneyActivities } from '../activities/index.js';",
      "import type { JourneyDefinition } from '../engine/definition.js';",
      'export type Both = [JourneyActivities, JourneyDefinition];',
      '',
    ].join('\n');
    expect(await rulesFired(code, WORKFLOW_FILE)).toEqual([]);
  });

  it('leaves the service side free to import Node built-ins and zod', async () => {
    const code = "import fs from 'node:fs';\nimport { z } from 'zod';\nexport const both = [fs.existsSync, z.string()];\n";
    expect(await rulesFired(code, API_FILE)).toEqual([]);
  });
});

describe('the service layer fence', () => {
  it.each([
    ['an HTTP error of the API', 'service/journeys.ts', "import { errorHandler } from '../api/http.js';\nexport const h = errorHandler;\n"],
    ['the API as a type', 'service/definitions.ts', "import type { AppDeps } from '../api/app.js';\nexport type D = AppDeps;\n"],
    ['Express', 'activities/send.ts', "import express from 'express';\nexport const r = express.Router;\n"],
    ['the API from a channel', 'channels/sms.ts', "import { twilioStatusRouter } from '../api/twilio-status.js';\nexport const r = twilioStatusRouter;\n"],
  ])('refuses %s in the service layer', async (_what, filePath, code) => {
    expect(await rulesFired(code, filePath)).toEqual(['@typescript-eslint/no-restricted-imports']);
  });

  it('lets the service layer throw its domain errors and the API import the service', async () => {
    const service = "import { Conflict } from './errors.js';\nexport const refuse = () => new Conflict('taken', 'already there');\n";
    expect(await rulesFired(service, 'service/journeys.ts')).toEqual([]);
    const edge = "import { Conflict } from '../service/errors.js';\nimport { statusOf } from './http.js';\nexport const s = statusOf(new Conflict('x', 'y'));\n";
    expect(await rulesFired(edge, API_FILE)).toEqual([]);
  });
});

describe('promises and switches', () => {
  it('refuses a promise nobody awaits', async () => {
    const code = 'async function save(): Promise<void> {}\nexport function handle(): void {\n  save();\n}\n';
    expect(await rulesFired(code, ENGINE_FILE)).toEqual(['@typescript-eslint/no-floating-promises']);
  });

  it('refuses a switch over a union that misses a case, even with a default', async () => {
    const code = [
      "type Kind = 'send' | 'wait' | 'exit';",
      'export function label(k: Kind): string {',
      '  switch (k) {',
      "    case 'send': return 'S';",
      "    case 'wait': return 'W';",
      "    default: return '?';",
      '  }',
      '}',
      '',
    ].join('\n');
    expect(await rulesFired(code, ENGINE_FILE)).toEqual(['@typescript-eslint/switch-exhaustiveness-check']);
  });

  it('refuses an async callback where a void one is expected, and allows an async Express route', async () => {
    const forEach = 'export function each(ns: number[]): void {\n  ns.forEach(async (n) => {\n    await Promise.resolve(n);\n  });\n}\n';
    expect(await rulesFired(forEach, API_FILE)).toEqual(['@typescript-eslint/no-misused-promises']);
    const route = [
      "import express from 'express';",
      'export const app = express();',
      "app.get('/x', async (_req, res) => {",
      '  res.json(await Promise.resolve(1));',
      '});',
      '',
    ].join('\n');
    expect(await rulesFired(route, API_FILE)).toEqual([]);
  });

  it('passes clean code: awaited promises, an exhaustive switch, type-only imports', async () => {
    const code = [
      "import type { JourneyActivities } from '../activities/index.js';",
      "type Kind = 'send' | 'wait' | 'exit';",
      'async function save(): Promise<void> {}',
      'export async function handle(k: Kind, _a?: JourneyActivities): Promise<string> {',
      '  await save();',
      '  switch (k) {',
      "    case 'send': return 'S';",
      "    case 'wait': return 'W';",
      "    case 'exit': return 'X';",
      '  }',
      '}',
      '',
    ].join('\n');
    expect(await rulesFired(code, WORKFLOW_FILE)).toEqual([]);
  });
});
