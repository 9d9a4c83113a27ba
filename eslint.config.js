// Lint: a small set of rules that catch real bugs (promises nobody awaits, switches that miss a case) and the fence
// that keeps the workflow bundle deterministic and free of Node code. Formatting is Prettier's job, not ESLint's.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Node's built-in modules by their bare names (`fs`, `fs/promises`, ...); every `node:` name is caught by a pattern. */
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'));

/**
 * What code that runs inside the workflow sandbox may not import. Temporal bundles `workflows/` and every module it
 * imports with values; the journey engine is among them. A value import of any of these drags Node code, the schema
 * library or a connection into every workflow (or fails the bundle); a type-only import erases and is fine.
 */
export const workflowFence = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'workflow code runs in the deterministic sandbox: no Node built-ins.' })),
    { name: 'zod', message: 'workflow code must not import zod (validation happens at the edge, not in every workflow sandbox).' },
    { name: 'pg', message: 'workflow code must not touch the database; do it in an activity.' },
    ...['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'].map((name) => ({
      name,
      allowTypeImports: true,
      message: 'workflow code imports only @temporalio/workflow and @temporalio/common.',
    })),
  ],
  patterns: [
    { regex: '^node:', message: 'workflow code runs in the deterministic sandbox: no Node built-ins.' },
    { group: ['zod/*'], message: 'workflow code must not import zod.' },
    { group: ['@prisma/*', 'pg/*', '**/db/*', '**/db'], message: 'workflow code must not touch the database; do it in an activity.' },
    {
      group: ['**/activities/*', '**/activities', '**/channels/*'],
      allowTypeImports: true,
      message: 'workflow code calls activities through proxyActivities: import their types only (`import type`).',
    },
    {
      // The rest of the service is Node code (config, logger, Express, Prisma, LiquidJS, pools...).
      group: ['**/service/*', '**/api/*', '**/config/*', '**/worker/*', '**/dev/*', '**/policy/*', '**/journeys/*', '**/bench/*', '**/test/*'],
      allowTypeImports: true,
      message: 'workflow code must not import service-side modules; import their types only (`import type`).',
    },
    {
      // The definition schema and the node kinds' schemas (zod) and the static validator run in the API, never in the
      // workflow.
      group: ['**/definition.js', '**/validate.js', '**/kinds/schemas.js', './schemas.js'],
      allowTypeImports: true,
      message: 'the definition schema uses zod: workflow and engine code import its types only (`import type`).',
    },
  ],
};

/** What the service layer may not import: the HTTP edge. A service that needs a word of the API's (a role, a shape)
 * takes it from the service side, where the API imports it too. */
export const serviceFence = {
  paths: [{ name: 'express', message: 'the service layer knows nothing of HTTP: throw a domain error (service/errors.ts); api/ maps it to a status.' }],
  patterns: [
    {
      group: ['**/api/*', '**/api'],
      message: 'the service layer must not import the API: errors are domain words (service/errors.ts), mapped to HTTP once in api/http.ts.',
    },
  ],
};

export default defineConfig(
  globalIgnores(['node_modules/', 'db/generated/', 'bench/results/', '.data/', '.tools/', 'dist/', 'test/histories/']),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The bugs this lint exists for.
      '@typescript-eslint/no-floating-promises': 'error',
      // Full checks: Express 5 types a route handler as returning `unknown` (it awaits the promise and hands a rejection
      // to the error handler), so async routes pass, while an async callback given to forEach, setTimeout or an event
      // emitter (whose rejection nobody sees) is an error.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: true, checksConditionals: true, checksSpreads: true }],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false, allowDefaultCaseForExhaustiveSwitch: true },
      ],
      // TypeScript itself checks these (noUnusedLocals is off, so unused names are a warning here, underscored ones
      // are intended: an Express error handler's `_next`, a destructured field left out).
      '@typescript-eslint/no-unused-vars': ['warn', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // TypeScript resolves names itself (and knows Node's globals); ESLint's check only duplicates it with false alarms.
      'no-undef': 'off',
      // Tests read JSON response bodies as `any` on purpose (the body is what is being asserted on); the service code
      // is held to `unknown` by review and by strict TypeScript.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Everything the workflow bundle contains: workflows/ and the pure engine it drives. engine/definition.ts and
    // engine/kinds/schemas.ts (the zod schemas) and engine/validate.ts (static checks at publish) run only in the API
    // and are imported here as types.
    files: ['workflows/**/*.ts', 'engine/**/*.ts'],
    ignores: ['engine/definition.ts', 'engine/kinds/schemas.ts', 'engine/validate.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', workflowFence],
    },
  },
  {
    // Errors are domain words inside, HTTP at the edge: the service layer and what it drives (activities, channels,
    // policy, the database) throw the domain errors of service/errors.ts and know nothing of the API, its statuses or
    // Express; api/http.ts alone turns them into statuses.
    files: ['service/**/*.ts', 'activities/**/*.ts', 'channels/**/*.ts', 'policy/**/*.ts', 'db/**/*.ts'],
    ignores: ['db/generated/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', serviceFence],
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { console: 'readonly' } },
  },
  prettier,
);
