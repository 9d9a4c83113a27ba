// The console in a real browser (Debian's Chromium, headless) against the whole service on real parts: an RM signs in
// with an API key and sees only their customers, opens a task, takes an outcome by its button and sees the journey's
// stage move; ops sees the bank-loan journey map and funnel with the analytics API's counts, and the audit log;
// both in zh-CN and English; and ops pauses and cancels a bulk enrolment by the buttons of its row. Screenshots of what it saw go to a temporary folder, or with CONSOLE_SCREENSHOTS=1
// (`npm run screenshots`) to docs/console/ for the README, so a test run never rewrites tracked files.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStackApp, eventually, RM_ID, startStack, type Stack } from './support/stack.js';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(import.meta.dirname, '..', 'docs', 'console') : mkdtempSync(path.join(tmpdir(), 'console-shots-'));
const OTHER_RM = 'rm-777';
let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let server: Server;
let base = '';
let browser: Browser;
/** The two affluent customers whose needs-discovery task each language run completes. */
const taskFor: Record<'en' | 'zh-CN', { customerId: string; taskId: string }> = { en: { customerId: '', taskId: '' }, 'zh-CN': { customerId: '', taskId: '' } };

let seq = 0;
async function customer(id: string, name: string, rmId: string, segment = 'new_affluent') {
  await api(app, 'system')
    .put(`/v1/customers/${id}`)
    .send({ name, email: `${id}@example.com`, phone: `+86139${String(++seq).padStart(8, '0')}`, rmId, segment, locale: 'zh-CN' })
    .expect(201);
}
const event = (customerId: string, type: string, data?: Record<string, unknown>) =>
  api(app, 'system')
    .post(`/v1/customers/${customerId}/events`)
    .send({ eventId: `console-${customerId}-${++seq}`, type, ...(data ? { data } : {}) })
    .expect(202);
const openTask = (customerId: string, taskKey: string) =>
  eventually(
    () =>
      api(app, 'ops')
        .get(`/v1/tasks?customerId=${customerId}&status=open`)
        .then((r) => r.body.tasks.find((t: { taskKey: string }) => t.taskKey === taskKey)),
    (t) => t !== undefined,
    30_000,
  );

/** An affluent customer who attended an insurance evening: the journey waits in `attended` for the RM's outcome. */
async function attendedEvening(id: string, name: string) {
  await customer(id, name, RM_ID);
  const eventAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
  await event(id, 'insurance.invited', { eventCode: 'EV-1', eventAt });
  await event(id, 'insurance.registered', { eventCode: 'EV-1', eventAt });
  await event(id, 'insurance.attended', { eventCode: 'EV-1' });
  return (await openTask(id, 'needs-discovery')) as { id: string };
}

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [en, zh] = await Promise.all([attendedEvening('c-wang', '王芳'), attendedEvening('c-li', 'Li Lei')]);
  taskFor.en = { customerId: 'c-wang', taskId: en.id };
  taskFor['zh-CN'] = { customerId: 'c-li', taskId: zh.id };
  // The bank-loan journey at several stages, one customer another RM's.
  for (const [id, name, rmId, stage] of [
    ['c-zhao', '赵强', RM_ID, 'comparison'],
    ['c-sun', 'Sun Mei', RM_ID, 'interest'],
    ['c-other', 'Not Yours', OTHER_RM, 'interest'],
  ] as const) {
    await customer(id, name, rmId, 'mass');
    await api(app, 'system').post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId: id }).expect(201);
    await event(id, 'loan.stage_changed', { stage });
  }
  await eventually(
    () => stack.testDb.db.journey.count({ where: { journeyKey: 'bank-loan', stage: { in: ['comparison', 'interest'] } } }),
    (n) => n === 3,
    30_000,
  );
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  mkdirSync(SHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await stack?.stop();
});

/** A page in a browser of that language; every Content-Security-Policy refusal is kept, to assert there was none. */
async function pageIn(locale: 'en' | 'zh-CN') {
  const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const refused: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
  });
  page.on('pageerror', (e) => refused.push(`page error: ${e.message}`));
  return { page, refused, close: () => context.close() };
}

async function signIn(page: Page, key: string) {
  await page.goto(`${base}/console/`);
  await page.fill('#api-key', key);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('#nav a');
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

describe('the console is served by the service', () => {
  it('serves the page, ECharts and Mermaid from the service under a strict Content-Security-Policy, and says whether OIDC sign-in is offered', async () => {
    const res = await fetch(`${base}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/src="https?:|href="https?:/);
    for (const file of ['echarts.min.js', 'mermaid.min.js']) expect((await fetch(`${base}/console/vendor/${file}`)).status).toBe(200);
    expect((await fetch(`${base}/console/vendor/package.json`)).status).toBe(404);
    expect(await (await fetch(`${base}/console/config.json`)).json()).toEqual({ oidc: null });
  });
});

describe('the task API the console reads', () => {
  it("lists a task with the customer's name, its journey and stage, and the outcomes the journey accepts in the definition's order; refuses another outcome with 422 and keeps the task open", async () => {
    const { tasks } = (await api(app, 'rm').get('/v1/tasks?status=open').expect(200)).body;
    const task = tasks.find((t: { id: string }) => t.id === taskFor.en.taskId);
    expect(task).toMatchObject({ customerName: '王芳', journeyKey: 'insurance-event', stage: 'attended', acceptsOther: false });
    expect(task.outcomes).toEqual(['interested', 'not_now', 'closed']); // as insurance-event.json writes them
    const refused = await api(app, 'rm').post(`/v1/tasks/${taskFor.en.taskId}/complete`).send({ outcome: 'maybe_later' }).expect(422);
    expect(refused.body.error).toMatchObject({ code: 'unknown_outcome', details: { outcomes: task.outcomes } });
    expect((await api(app, 'rm').get(`/v1/tasks/${taskFor.en.taskId}`).expect(200)).body).toMatchObject({ status: 'open', stage: 'attended' });
  });

  it('a task page reads why the task exists: the stage history and the events the journey received before it', async () => {
    const task = (await api(app, 'rm').get(`/v1/tasks/${taskFor.en.taskId}`).expect(200)).body;
    expect(task.stageHistory.map((s: { stage: string }) => s.stage)).toEqual(['invited', 'registered', 'attended']);
    expect(task.events.map((e: { type: string }) => e.type)).toEqual(['insurance.invited', 'insurance.registered', 'insurance.attended']);
  });
});

describe.each(['en', 'zh-CN'] as const)('in %s', (locale) => {
  const words = {
    en: {
      customers: 'My customers',
      outcome: 'Interested',
      moved: 'The journey moved from attended to needs_discovery.',
      map: 'Journey map',
      audit: 'Audit log',
      taskDone: 'task needs-discovery done: interested',
    },
    'zh-CN': {
      customers: '我的客户',
      outcome: '有意向',
      moved: '旅程已从 attended 进入 needs_discovery。',
      map: '旅程地图',
      audit: '审计日志',
      taskDone: '任务 needs-discovery 已完成：interested',
    },
  }[locale];
  const tag = locale === 'en' ? 'en' : 'zh';

  it('an RM signs in with an API key and sees only their own customers, with journeys, stages and next actions', async () => {
    const { page, refused, close } = await pageIn(locale);
    await signIn(page, stack.keys.rm);
    expect(await page.textContent('#nav a[data-page=customers]')).toBe(words.customers);
    await page.waitForSelector('#customers tbody tr');
    const shown = await page.$$eval('#customers tbody tr', (rows) => rows.map((r) => r.getAttribute('data-customer')));
    expect(shown.sort()).toEqual(['c-li', 'c-sun', 'c-wang', 'c-zhao']);
    const zhao = await page.textContent('#customers tr[data-customer=c-zhao]');
    expect(zhao).toContain('bank-loan');
    expect(zhao).toContain('comparison');
    expect(await page.textContent(`#customers tr[data-customer=${taskFor[locale].customerId}]`)).toContain('Book a one-to-one needs discovery');
    await shot(page, `rm-customers-${tag}`);
    expect(refused).toEqual([]);
    await close();
  });

  it("an RM opens a task from the inbox, takes the outcome by its button, and sees the journey's stage move", async () => {
    const { page, refused, close } = await pageIn(locale);
    await signIn(page, stack.keys.rm);
    await page.click('#nav a[data-page=tasks]');
    await page.waitForSelector(`#tasks tr[data-task="${taskFor[locale].taskId}"]`);
    if (locale === 'zh-CN') await shot(page, 'rm-tasks-zh');
    await page.click(`#tasks tr[data-task="${taskFor[locale].taskId}"] a`);
    await page.waitForSelector('button.outcome');
    expect((await page.$$eval('button.outcome', (b) => b.map((x) => x.getAttribute('data-outcome')))).sort()).toEqual(['closed', 'interested', 'not_now']);
    expect(await page.textContent('#task-stage')).toBe('attended');
    expect(await page.textContent('#task-customer')).toBe(locale === 'en' ? '王芳' : 'Li Lei');
    await page.fill('#task-note', 'called, wants a meeting');
    await page.click('button.outcome[data-outcome=interested]');
    await page.locator('#task-stage', { hasText: /^needs_discovery$/ }).waitFor({ timeout: 20_000 });
    expect(await page.textContent('#task-result')).toContain(words.moved);
    expect(await page.textContent('button.outcome[data-outcome=interested]')).toBe(words.outcome);
    await shot(page, `rm-task-${tag}`);
    const done = (await api(app, 'ops').get(`/v1/tasks/${taskFor[locale].taskId}`).expect(200)).body;
    expect(done).toMatchObject({ status: 'done', outcome: 'interested', note: 'called, wants a meeting', stage: 'needs_discovery' });
    expect(refused).toEqual([]);
    await close();
  });

  it("an RM opens a customer 360: profile with contact details, journeys with stage history, messages, tasks and the timeline; another RM's customer reads as not found", async () => {
    const { page, refused, close } = await pageIn(locale);
    await signIn(page, stack.keys.rm);
    await page.goto(`${base}/console/#/customers/${taskFor[locale].customerId}`);
    await page.waitForSelector('#profile');
    const profile = await page.textContent('#profile');
    expect(profile).toContain(`${taskFor[locale].customerId}@example.com`);
    expect(await page.textContent('main')).toContain('insurance-event');
    // The timeline (GET /v1/customers/:id/timeline), in the console's language: the outcome the RM took on the task page.
    await page.waitForSelector('#timeline li');
    expect(await page.textContent('#timeline')).toContain(words.taskDone);
    await page.goto(`${base}/console/#/customers/c-other`);
    await page.waitForSelector('main .error');
    expect(await page.textContent('main .error')).toContain('not found');
    if (locale === 'zh-CN') {
      await page.goto(`${base}/console/#/customers/${taskFor[locale].customerId}`);
      await page.waitForSelector('#profile');
      await shot(page, 'customer-360-zh');
    }
    expect(refused).toEqual([]);
    await close();
  });

  it('ops sees the journey catalogue, the bank-loan journey map and funnel with the counts of the analytics API, the audit log and a stuck journey', async () => {
    const { page, refused, close } = await pageIn(locale);
    await signIn(page, stack.keys.ops);
    await page.click('#nav a[data-page=journeys]');
    await page.click('#catalogue a[data-journey=bank-loan]');
    await page.waitForSelector('#journey-map svg', { timeout: 30_000 });
    expect(await page.textContent('main')).toContain(words.map);
    const map = await page.textContent('#journey-map svg');
    expect(map).toContain(locale === 'en' ? 'Comparison' : '比较');
    expect(map).toContain('loan.application_started');
    // The counts on the map and in the funnel are the analytics API's.
    const live = await api(app, 'ops').get('/v1/analytics/journeys/bank-loan/map').expect(200);
    for (const st of live.body.stages as { stage: string; current: number }[])
      expect(await page.textContent(`#journey-map svg g.node[id*="flowchart-S_${st.stage}-"]`)).toContain(String(st.current));
    expect(live.body.stages.find((st: { stage: string }) => st.stage === 'interest').current).toBe(2);
    const funnel = await api(app, 'ops').get('/v1/analytics/journeys/bank-loan/funnel').expect(200);
    await page.waitForSelector('#funnel-chart canvas');
    await page.waitForSelector('#time-chart canvas');
    for (const st of funnel.body.stages as { stage: string; entered: number }[])
      expect(await page.textContent(`#funnel-table tr[data-stage="${st.stage}"] td:nth-child(2)`)).toBe(String(st.entered));
    await shot(page, `ops-journey-bank-loan-${tag}`);
    // The segment filter narrows every figure as the API does (the bank-loan customers are all `mass`).
    const narrowed = await api(app, 'ops').get('/v1/analytics/journeys/bank-loan/funnel?segment=new_affluent&version=1').expect(200);
    expect(funnel.body.stages[0].entered).toBeGreaterThan(narrowed.body.stages[0].entered);
    await page.fill('#segment', 'new_affluent');
    await page.press('#segment', 'Enter');
    const first = narrowed.body.stages[0] as { stage: string; entered: number };
    // The page re-renders: wait until the funnel's first row shows the narrowed count, then compare every row.
    const cell = `#funnel-table tr[data-stage="${first.stage}"] td:nth-child(2)`;
    await expect.poll(() => page.textContent(cell), { timeout: 15_000 }).toBe(String(first.entered));
    for (const st of narrowed.body.stages as { stage: string; entered: number }[])
      expect(await page.textContent(`#funnel-table tr[data-stage="${st.stage}"] td:nth-child(2)`)).toBe(String(st.entered));
    // A running journey with nothing waiting and no timer: ops sees it among the stuck ones.
    const stuckId = `lifecycle:console-stuck-${locale}`;
    await stack.testDb.db.customer.create({ data: { id: `console-stuck-${locale}` } });
    await stack.testDb.db.journey.create({
      data: {
        workflowId: stuckId,
        customerId: `console-stuck-${locale}`,
        journeyKey: 'lifecycle',
        version: 1,
        stage: 'service',
        stageEnteredAt: new Date(),
        waiting: [],
        waitingSince: new Date(Date.now() - 2 * 3_600_000),
      },
    });
    await page.click('#nav a[data-page=ops]');
    await page.waitForSelector('#audit tbody tr');
    expect(await page.textContent('main')).toContain(words.audit);
    expect(await page.textContent('#audit')).toContain('task.complete');
    expect(await page.textContent('#stuck')).toContain(stuckId);
    if (locale === 'en') await shot(page, 'ops-en');
    expect(refused).toEqual([]);
    await close();
  });
});

describe('bulk enrolments on the ops page', () => {
  it("ops sees an enrolment's row with its progress, pauses it by its button (the row then offers resume) and cancels it (the row shows it cancelled, with no buttons left)", async () => {
    const audience = Array.from({ length: 30 }, (_, i) => `console-enr-${String(i + 1).padStart(2, '0')}`);
    await stack.testDb.db.customer.createMany({ data: audience.map((id) => ({ id })) });
    // Two a second in batches of ten: it is still running when the page opens, and a pause lands between batches.
    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: audience, ratePerSecond: 2 }).expect(202);
    const id = made.body.id as string;
    const progress = async () => (await api(app, 'ops').get(`/v1/enrolments/${id}`).expect(200)).body;
    const row = `#enrolments tr[data-enrolment="${id}"]`;
    const cells = () => page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));

    const { page, refused, close } = await pageIn('en');
    await signIn(page, stack.keys.ops);
    await page.click('#nav a[data-page=ops]');
    await page.waitForSelector(`${row} button[data-action=pause]`);
    const running = await cells();
    expect(running.slice(0, 3)).toEqual(['lifecycle', 'running', '30']);
    expect(Number(running[3]) + Number(running[6])).toBe(30); // started + pending: nobody skipped or failed
    expect(await page.$$eval(`${row} button`, (b) => b.map((x) => x.getAttribute('data-action')))).toEqual(['pause', 'cancel']);

    await page.click(`${row} button[data-action=pause]`);
    const paused = await eventually(progress, (p) => p.status === 'paused', 30_000);
    await page.reload();
    await page.waitForSelector(`${row} button[data-action=resume]`);
    // Paused, its figures hold still: the row shows the API's progress.
    expect(await cells()).toEqual(['lifecycle', 'paused', '30', String(paused.started), '0', '0', String(paused.pending), expect.any(String), 'ResumeCancel']);
    expect(paused.pending).toBeGreaterThan(0);
    await shot(page, 'ops-enrolments-en');

    await page.click(`${row} button[data-action=cancel]`);
    const cancelled = await eventually(progress, (p) => p.status === 'cancelled', 30_000);
    expect(cancelled).toMatchObject({ started: paused.started, pending: paused.pending });
    await page.reload();
    await page.locator(row, { hasText: 'cancelled' }).waitFor();
    expect(await page.$$(`${row} button`)).toHaveLength(0);
    expect(await stack.testDb.db.journey.count({ where: { enrolmentId: id } })).toBe(paused.started);
    expect(refused).toEqual([]);
    await close();
  }, 90_000);
});
