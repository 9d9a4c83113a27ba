// `npm run build`: the production build. dist/ mirrors the source tree, so every path the code resolves relative to
// itself (the migrations, the journeys and templates, the console's files, the failure converter, package.json's
// version) is found in dist/ as in the sources:
// - the TypeScript of the service's runtime folders compiled to ES modules (tsconfig.build.json), type-checked;
// - the files the compiled code reads at run time, copied beside it (RUNTIME_FILES);
// - the Temporal workflow bundle, prebuilt with the options the worker and the tests bundle with
//   (worker/workflow-code.ts), so the production worker loads it instead of bundling at start.
// `--out-dir <dir>` builds elsewhere (the build test does); the folder is emptied first. `--no-check` emits without the
// type check (the same files; `npm run typecheck` checks).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE, workflowBundleOptions } from '../worker/workflow-code.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What the compiled code reads beside itself, as [source, filter]: a folder copied whole, or the files of a folder
 * whose names pass the filter. The test of the build starts the compiled API and worker on these. */
const RUNTIME_FILES: [string, ((name: string) => boolean)?][] = [
  ['service/failure-converter.cjs'], // loaded by path by the Temporal client and worker (require())
  ['console'], // the console's static files
  ['journeys', (f) => f.endsWith('.json')], // the built-in journey definitions and the event catalog
  ['templates', (f) => f.endsWith('.json')], // the built-in message templates
  ['prisma/migrations'], // applied at start by db/migrate.ts
];

const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' }, 'no-check': { type: 'boolean', default: false } } });
const outDir = path.resolve(projectRoot, values['out-dir']);
if (outDir === projectRoot || projectRoot.startsWith(outDir + path.sep)) throw new Error(`refusing to build into ${outDir}: it holds the sources`);
const log = (msg: string) => process.stderr.write(`build: ${msg}\n`);

const started = Date.now();
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

function compile(): Promise<void> {
  const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.build.json'), '--outDir', outDir, ...(values['no-check'] ? ['--noCheck'] : [])], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`tsc failed (${signal ?? `exit code ${code}`})`)))));
}

async function bundle(): Promise<void> {
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: { trace() {}, debug() {}, info() {}, warn: log, error: log, log } });
  writeFileSync(path.join(outDir, WORKFLOW_BUNDLE_FILE), code);
  log(`${WORKFLOW_BUNDLE_FILE}: ${(code.length / 1024 / 1024).toFixed(1)} MB`);
}

await Promise.all([compile(), bundle()]);

for (const [source, keep] of RUNTIME_FILES)
  cpSync(path.join(projectRoot, source), path.join(outDir, source), {
    recursive: true,
    ...(keep ? { filter: (from: string) => from === path.join(projectRoot, source) || keep(path.basename(from)) } : {}),
  });
// The compiled files' package.json: ES modules, and the version the API reports (api/openapi.ts reads ../package.json).
const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { name: string; version: string };
writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module' }, null, 2)}\n`);

log(`${path.relative(projectRoot, outDir) || outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
