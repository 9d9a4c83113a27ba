// Templates run sandboxed: no tag reads a file, every render is bounded in time and allocation, the output is capped
// per channel; an upload that breaks a limit is refused, and one that got into the store anyway fails its send for good
// without holding the worker. `POST /v1/templates/preview` renders a stored or an ad-hoc template.
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type SendInput } from '../activities/index.js';
import { createChannels } from '../channels/registry.js';
import type { ChannelName } from '../engine/channels.js';
import { TemplateError, TemplateLimitError, TemplateStore, type TemplateContent } from '../channels/templates.js';
import { loadPolicy } from '../policy/policy.js';
import { checkUpload } from '../service/templates.js';
import { api, createStackApp, NO_LIMITS, startStack, type Stack } from './support/stack.js';

const HUGE_LOOP = '{% for i in (1..100000000) %}x{% endfor %}';
/** Allocates little (a thousand-element range, a thousand times) but runs a million iterations: only the clock stops it. */
const SLOW_LOOP = '{% for i in (1..1000) %}{% for j in (1..1000) %}{% if j == 0 %}never{% endif %}{% endfor %}{% endfor %}';
const vars = { customer: { id: 'c', name: 'Ann', locale: 'en', segment: null, attributes: {} }, event: {}, params: {} };

function storeOf(channel: ChannelName, content: TemplateContent): TemplateStore {
  return new TemplateStore(new Map([[`t|${channel}`, { en: content }]]));
}
function renderError(channel: ChannelName, content: TemplateContent): unknown {
  try {
    storeOf(channel, content).render('t', channel, 'en', vars);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('rendering is sandboxed', () => {
  const packageJson = readFileSync(new URL('../package.json', import.meta.url), 'utf8');

  it.each(['include', 'render', 'layout'])("{%% %s 'package.json' %%} renders nothing from disk and is refused", (tag) => {
    const err = renderError('email', { subject: 'Hi', text: `before {% ${tag} 'package.json' %} after` });
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as Error).message).toContain(`{% ${tag} %} is not allowed`);
    expect((err as Error).message).not.toContain('journey-orchestrator');
    expect(() => checkUpload('email', 'en', { subject: 'Hi', text: `{% ${tag} 'package.json' %}` })).toThrow(/invalid_template|not allowed/);
    expect(packageJson).toContain('journey-orchestrator'); // the file is there to be read: the refusal is what keeps it out
  });

  it('the 1..100000000 loop is stopped by the allocation budget, at once', () => {
    const started = performance.now();
    const err = renderError('sms', { text: HUGE_LOOP });
    expect(err).toBeInstanceOf(TemplateLimitError);
    expect((err as Error).message).toContain('memory alloc limit exceeded');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a loop that allocates little is stopped by the render time budget', () => {
    const err = renderError('email', { subject: 'Hi', text: SLOW_LOOP });
    expect(err).toBeInstanceOf(TemplateLimitError);
    expect((err as Error).message).toContain('template render limit exceeded');
  });

  it('an SMS over 1 600 characters is refused at render; 1 600 pass', () => {
    expect(storeOf('sms', { text: '{% for i in (1..1600) %}x{% endfor %}' }).render('t', 'sms', 'en', vars).text).toHaveLength(1_600);
    const err = renderError('sms', { text: '{% for i in (1..1601) %}x{% endfor %}' });
    expect(err).toBeInstanceOf(TemplateLimitError);
    expect((err as Error).message).toContain('1601 characters; sms allows at most 1600');
  });

  it('an email subject longer than one header line is refused at render', () => {
    expect(renderError('email', { subject: '{% for i in (1..999) %}s{% endfor %}', text: 'ok' })).toBeInstanceOf(TemplateLimitError);
  });

  it('every built-in template passes the upload check', () => {
    const all = TemplateStore.fromFiles().all();
    expect(all.length).toBeGreaterThan(10);
    for (const t of all) expect(() => checkUpload(t.channel, t.locale, t.content), `${t.key} ${t.channel} ${t.locale}`).not.toThrow();
  });
});

describe('the template routes', () => {
  let stack: Stack;
  let app: ReturnType<typeof createStackApp>;
  const stored = () => stack.testDb.db.messageTemplate.count();

  beforeAll(async () => {
    stack = await startStack();
    app = createStackApp(stack);
  });
  afterAll(async () => stack?.stop());

  it.each([
    ['an include of package.json', 'email', { subject: 'Hi', text: "{% include 'package.json' %}" }, 'invalid_template', '{% include %} is not allowed'],
    ['a render of package.json', 'email', { subject: 'Hi', text: 'ok', html: "<p>{% render 'package.json' %}</p>" }, 'invalid_template', '{% render %} is not allowed'],
    ['the 1..100000000 loop', 'sms', { text: HUGE_LOOP }, 'template_limit', 'memory alloc limit exceeded'],
    ['a loop that runs too long', 'email', { subject: 'Hi', text: SLOW_LOOP }, 'template_limit', 'template render limit exceeded'],
    ['an SMS over 1 600 characters on sample data', 'sms', { text: '{% for i in (1..400) %}{{ params.word }}{% endfor %}' }, 'template_limit', 'sms allows at most 1600'],
  ] as const)('PUT refuses %s with 400 and stores nothing', async (_name, channel, content, code, message) => {
    const before = await stored();
    const res = await api(app).put(`/v1/templates/sandbox-test/${channel}/en`).send(content);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(message);
    expect(await stored()).toBe(before);
  });

  it('PUT stores a template within its limits', async () => {
    await api(app).put('/v1/templates/sandbox-ok/sms/en').send({ text: '{{ customer.name }}: {{ event.stage }}' }).expect(201);
  });

  it('preview renders a stored template with the given customer, event and params', async () => {
    const res = await api(app)
      .post('/v1/templates/preview')
      .send({ key: 'loan-approved', channel: 'email', locale: 'zh-CN', customer: { name: 'Wei' }, event: { limit: 80000 } })
      .expect(200);
    expect(res.body.subject).toBe('贷款已获批：额度 ¥80,000.00');
    expect(res.body.text).toContain('Wei');
    expect(typeof res.body.html).toBe('string');
  });

  it('preview renders ad-hoc text, escaping html', async () => {
    const res = await api(app)
      .post('/v1/templates/preview')
      .send({
        text: 'Hi {{ customer.name }} {{ params.n | plus: 1 }}',
        html: '<b>{{ customer.name }}</b>',
        subject: 'S',
        channel: 'email',
        customer: { name: '<Ann>' },
        params: { n: 41 },
      })
      .expect(200);
    expect(res.body).toEqual({ subject: 'S', text: 'Hi <Ann> 42', html: '<b>&lt;Ann&gt;</b>' });
  });

  it.each([
    ['neither key nor text', { channel: 'sms' }, 400, 'invalid_request'],
    ['both key and text', { key: 'loan-approved', text: 'x', channel: 'sms' }, 400, 'invalid_request'],
    ['an unknown channel', { text: 'x', channel: 'fax' }, 400, 'invalid_request'],
    ['an unknown field', { text: 'x', channel: 'sms', colour: 'red' }, 400, 'invalid_request'],
    ['text that does not parse', { text: '{{ customer.name ', channel: 'sms' }, 400, 'invalid_template'],
    ['an include', { text: "{% include 'package.json' %}", channel: 'sms' }, 400, 'invalid_template'],
    ['an unknown key', { key: 'no-such-template', channel: 'sms' }, 404, 'not_found'],
    ['a key without that channel', { key: 'loan-approved', channel: 'webhook' }, 404, 'not_found'],
    ['the 1..100000000 loop', { text: HUGE_LOOP, channel: 'sms' }, 422, 'template_limit'],
    ['an SMS over 1 600 characters', { text: '{{ params.s }}', channel: 'sms', params: { s: 'y'.repeat(1_601) } }, 422, 'template_limit'],
  ] as const)('preview answers %s with a clear 4xx', async (_name, body, status, code) => {
    const res = await api(app).post('/v1/templates/preview').send(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
  });

  it('a poison template already in the store fails its send for good, at once, and nothing is sent', async () => {
    const { db } = stack.testDb;
    await db.messageTemplate.create({ data: { key: 'poison', channel: 'sms', locale: 'en', version: 1, text: HUGE_LOOP } });
    await db.customer.create({ data: { id: 'poisoned', name: 'P', phone: '+8613900000001' } });
    const channels = createChannels(stack.config);
    const activities = createActivities({
      db,
      channels,
      templates: stack.templates,
      policy: loadPolicy(NO_LIMITS),
      chorus: stack.service,
    });
    const input: SendInput = {
      idempotencyKey: 'poisoned/1',
      workflowId: 'w',
      customerId: 'poisoned',
      channel: 'sms',
      template: 'poison',
      flow: 't',
      vars: { event: {}, params: {} },
    };
    const started = performance.now();
    const err = await new MockActivityEnvironment().run(activities.sendMessage, input).catch((e: unknown) => e);
    for (const channel of Object.values(channels)) channel.close?.();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(await db.message.findUniqueOrThrow({ where: { idempotencyKey: 'poisoned/1' } })).toMatchObject({ status: 'failed', statusReason: 'template' });
    expect(stack.sms.messages().filter((m) => m.to === '+8613900000001')).toHaveLength(0);
  });
});
