// Four-eyes publishing on the real stack: a journey definition version and a template version go live only when a
// principal other than their drafter publishes them; the publish answers the difference against the live version; a
// send uses the newest published template, never a newer draft.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStackApp, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let worker: { stop(): Promise<void> };

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

const definition = (name: string, template = 'lifecycle-ces') => ({
  key: 'four-eyes-probe',
  version: 1,
  name,
  initialStage: 'one',
  stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'send', channel: 'sms', template }] }],
});

describe('four-eyes for journey definitions', () => {
  it('the principal who drafted a version cannot publish it (403 four_eyes), even an admin; the version stays a draft', async () => {
    const admin = api(app, { token: await stack.keyFor('admin') });
    const draft = await admin.post('/v1/journey-definitions').send(definition('Drafted by one admin')).expect(201);
    expect(draft.body).toMatchObject({ status: 'draft', createdBy: expect.any(String) });
    const refused = await admin.post(`/v1/journey-definitions/four-eyes-probe/versions/${draft.body.version}/publish`).expect(403);
    expect(refused.body.error.code).toBe('four_eyes');
    expect(refused.body.error.message).toBe(
      `journey definition four-eyes-probe@${draft.body.version} was drafted by the principal now publishing it; four-eyes: another principal must review and publish it`,
    );
    expect((await api(app, 'ops').get(`/v1/journey-definitions/four-eyes-probe/versions/${draft.body.version}`).expect(200)).body).toMatchObject({
      status: 'draft',
      publishedBy: null,
    });
  });

  it('another principal publishes it and is answered the difference against the live version, both principals recorded', async () => {
    const designer = api(app, 'designer');
    const ops = api(app, 'ops');
    const v1 = await designer.post('/v1/journey-definitions').send(definition('Probe one')).expect(201);
    const first = await ops.post(`/v1/journey-definitions/four-eyes-probe/versions/${v1.body.version}/publish`).expect(200);
    expect(first.body).toMatchObject({ status: 'published', previousVersion: null });
    expect(first.body.diff).toEqual(expect.arrayContaining([{ type: 'CREATE', path: ['name'], value: 'Probe one' }]));

    const v2 = await designer.post('/v1/journey-definitions').send(definition('Probe two', 'lifecycle-consideration')).expect(201);
    const second = await ops.post(`/v1/journey-definitions/four-eyes-probe/versions/${v2.body.version}/publish`).expect(200);
    expect(second.body).toMatchObject({ status: 'published', version: v2.body.version, previousVersion: v1.body.version });
    expect(second.body.diff).toEqual([
      { type: 'CHANGE', path: ['name'], value: 'Probe two', oldValue: 'Probe one' },
      { type: 'CHANGE', path: ['stages', 0, 'onEnter', 0, 'template'], value: 'lifecycle-consideration', oldValue: 'lifecycle-ces' },
    ]);
    const stored = await ops.get(`/v1/journey-definitions/four-eyes-probe/versions/${v2.body.version}`).expect(200);
    expect(stored.body.createdBy).toBe(v2.body.createdBy);
    expect(stored.body.publishedBy).not.toBe(stored.body.createdBy);
    expect(stored.body.publishedBy).toEqual(expect.any(String));
  });

  it('a draft under a built-in key goes live only through another principal, with its change against the built-in', async () => {
    const builtIn = (await api(app, 'ops').get('/v1/journey-definitions/lifecycle/versions/1').expect(200)).body;
    expect(builtIn).toMatchObject({ createdBy: 'system:seed', publishedBy: 'system:seed' });
    const admin = api(app, { token: await stack.keyFor('admin') });
    const draft = await admin
      .post('/v1/journey-definitions')
      .send({ ...builtIn.definition, name: 'Lifecycle, tailored' })
      .expect(201);
    expect((await admin.post(`/v1/journey-definitions/lifecycle/versions/${draft.body.version}/publish`).expect(403)).body.error.code).toBe('four_eyes');
    expect((await api(app, 'ops').get('/v1/journey-definitions').expect(200)).body.definitions.find((d: { key: string }) => d.key === 'lifecycle').publishedVersion).toBe(1);
    const published = await api(app, 'ops').post(`/v1/journey-definitions/lifecycle/versions/${draft.body.version}/publish`).expect(200);
    expect(published.body.diff).toEqual([{ type: 'CHANGE', path: ['name'], value: 'Lifecycle, tailored', oldValue: builtIn.definition.name }]);
  });
});

describe('four-eyes for templates', () => {
  const path = '/v1/templates/four-eyes-note/sms/en';
  let seq = 0;
  async function customerGetsSms(): Promise<string> {
    const id = `fe-${++seq}`;
    const phone = `+86139100${String(seq).padStart(5, '0')}`;
    await api(app, 'system')
      .put(`/v1/customers/${id}`)
      .send({ name: `Four ${seq}`, phone, consents: { sms: true } })
      .expect(201);
    await api(app, 'system').post('/v1/journeys').send({ journeyKey: 'template-probe', customerId: id }).expect(201);
    return (await stack.sms.waitFor((m) => m.to === phone)).body;
  }

  it('a draft is not live: the send uses the newest published version until another principal publishes the draft', async () => {
    const designer = api(app, 'designer');
    const ops = api(app, 'ops');
    const v1 = await designer.put(path).send({ text: 'Note one for {{ customer.name }}' }).expect(201);
    expect(v1.body).toMatchObject({ version: 1, status: 'draft' });
    await ops.post(`${path}/versions/1/publish`).expect(200);
    const probe = {
      key: 'template-probe',
      version: 1,
      name: 'Template probe',
      initialStage: 'one',
      stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'send', channel: 'sms', template: 'four-eyes-note' }] }],
    };
    const d = await designer.post('/v1/journey-definitions').send(probe).expect(201);
    await ops.post(`/v1/journey-definitions/template-probe/versions/${d.body.version}/publish`).expect(200);

    const v2 = await designer.put(path).send({ text: 'Note two for {{ customer.name }}' }).expect(201);
    expect(v2.body).toMatchObject({ version: 2, status: 'draft' });
    expect(await customerGetsSms()).toBe(`Note one for Four ${seq}`);

    const published = await ops.post(`${path}/versions/2/publish`).expect(200);
    expect(published.body).toMatchObject({ version: 2, status: 'published', previousVersion: 1, createdBy: v2.body.createdBy });
    expect(published.body.publishedBy).not.toBe(v2.body.createdBy);
    expect(published.body.diff).toEqual([{ type: 'CHANGE', path: ['text'], value: 'Note two for {{ customer.name }}', oldValue: 'Note one for {{ customer.name }}' }]);

    await designer.put(path).send({ text: 'Note three for {{ customer.name }}' }).expect(201);
    expect(await customerGetsSms()).toBe(`Note two for Four ${seq}`);
    const listed = (await ops.get('/v1/templates').expect(200)).body.templates.find((t: { key: string }) => t.key === 'four-eyes-note');
    expect(listed).toMatchObject({ version: 2, status: 'published', draftVersion: 3 });
  });

  it('the drafter cannot publish their own template version (403 four_eyes); it stays a draft and sends do not use it', async () => {
    const admin = api(app, { token: await stack.keyFor('admin') });
    const draft = await admin.put('/v1/templates/four-eyes-solo/sms/en').send({ text: 'Solo' }).expect(201);
    const refused = await admin.post(`/v1/templates/four-eyes-solo/sms/en/versions/${draft.body.version}/publish`).expect(403);
    expect(refused.body.error).toEqual({
      code: 'four_eyes',
      message: 'template four-eyes-solo (sms, en) version 1 was drafted by the principal now publishing it; four-eyes: another principal must review and publish it',
    });
    const versions = (await api(app, 'ops').get('/v1/templates/four-eyes-solo/sms/en/versions').expect(200)).body.versions;
    expect(versions).toEqual([expect.objectContaining({ version: 1, status: 'draft', publishedBy: null })]);
    expect((await stack.templates.snapshot()).has('four-eyes-solo', 'sms')).toBe(false);
  });

  it('a designer may draft but not publish; publishing a version older than the live one, or twice, is refused', async () => {
    const designer = api(app, 'designer');
    const ops = api(app, 'ops');
    const p = '/v1/templates/four-eyes-order/sms/en';
    await designer.put(p).send({ text: 'A' }).expect(201);
    await designer.put(p).send({ text: 'B' }).expect(201);
    expect((await designer.post(`${p}/versions/2/publish`).expect(403)).body.error.code).toBe('forbidden');
    await ops.post(`${p}/versions/2/publish`).expect(200);
    expect((await ops.post(`${p}/versions/1/publish`).expect(409)).body.error.code).toBe('superseded');
    expect((await ops.post(`${p}/versions/2/publish`).expect(409)).body.error.code).toBe('not_a_draft');
    expect((await ops.post(`${p}/versions/9/publish`).expect(404)).body.error.code).toBe('not_found');
  });

  it('a preview renders a draft version when asked for it, and the live version otherwise', async () => {
    const designer = api(app, 'designer');
    const p = '/v1/templates/four-eyes-preview/sms/en';
    await designer.put(p).send({ text: 'Live {{ customer.name }}' }).expect(201);
    await api(app, 'ops').post(`${p}/versions/1/publish`).expect(200);
    await designer.put(p).send({ text: 'Draft {{ customer.name }}' }).expect(201);
    const preview = (body: object) => designer.post('/v1/templates/preview').send({ key: 'four-eyes-preview', channel: 'sms', customer: { name: 'Ann' }, ...body });
    expect((await preview({}).expect(200)).body.text).toBe('Live Ann');
    expect((await preview({ version: 2 }).expect(200)).body.text).toBe('Draft Ann');
  });
});
