// Provider errors quote phone numbers and addresses; what leaves a channel adapter, and what the send activity records
// and throws, carries neither.
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type SendInput } from '../activities/index.js';
import { PermanentChannelError } from '../channels/channel.js';
import { createEmailChannel } from '../channels/email.js';
import { scrub, scrubbedError } from '../channels/scrub.js';
import { createSmsChannel } from '../channels/sms.js';
import { TemplateStore } from '../channels/templates.js';
import { createWebhookChannel } from '../channels/webhook.js';
import { channelsWith } from './support/channels.js';
import { startSmtpCatcher, type SmtpCatcher } from '../dev/smtp-catcher.js';
import { startTwilioSink, type TwilioSink } from '../dev/twilio-sink.js';
import { loadPolicy } from '../policy/policy.js';
import { createTestDb, type TestDb } from './support/db.js';
import { NO_LIMITS } from './support/stack.js';

describe('scrub', () => {
  it.each([
    [
      "Twilio's refused number",
      "Twilio 400/21211: The 'To' number +8613800138000 is not a valid phone number.",
      "Twilio 400/21211: The 'To' number [phone] is not a valid phone number.",
    ],
    ['an SMTP refused recipient', '550 5.1.1 <someone@example.com>: Recipient address rejected', '550 5.1.1 <[email]>: Recipient address rejected'],
    ['a national number with spaces and a dash', 'number (021) 6123-4567 unreachable', 'number ([phone] unreachable'],
    ['a US number', 'To +1 415 555 0100 failed', 'To [phone] failed'],
    ['an address with a plus and subdomains', 'mailbox zhang.san+loans@mail.bank.example.cn full', 'mailbox [email] full'],
  ])('removes %s', (_name, input, expected) => {
    expect(scrub(input)).toBe(expected);
  });

  it.each([
    ['SMTP enhanced codes and reply codes', '452 4.2.2 mailbox over quota'],
    ['a host and port', 'connect ECONNREFUSED 127.0.0.1:1025'],
    ['Twilio error codes and their page', 'Twilio 400/21211 see https://www.twilio.com/docs/errors/21211'],
    ['a message id', 'message 123e4567-e89b-12d3-a456-426614174000 failed'],
    ['a webhook status', 'webhook answered 503: busy'],
  ])('keeps %s', (_name, input) => {
    expect(scrub(input)).toBe(input);
  });

  it("removes the values it is told are personal: the recipient and the customer's name", () => {
    expect(scrub('device of Zhang San refused: {"title":"Zhang San, your guide"}', ['Zhang San', null])).toBe('device of [redacted] refused: {"title":"[redacted], your guide"}');
    expect(scrub('bounce for ZS@Example.com', ['ZS@Example.com'])).toBe('bounce for [email]');
  });

  it('keeps the kind of error, its code, and no trace of the original text in the stack or a cause', () => {
    const original = new PermanentChannelError('550 <a.b@example.com> rejected', 550);
    const e = scrubbedError(original);
    expect(e).toBeInstanceOf(PermanentChannelError);
    expect((e as PermanentChannelError).code).toBe(550);
    expect(e.stack).not.toContain('a.b@example.com');
    expect(e.cause).toBeUndefined();
    const transient = scrubbedError(Object.assign(new Error('451 try later for +8613800138000'), { name: 'SMTPError' }));
    expect(transient).not.toBeInstanceOf(PermanentChannelError);
    expect(transient.name).toBe('SMTPError');
    expect(transient.message).toBe('451 try later for [phone]');
  });
});

describe('provider errors leave the adapters and the send activity scrubbed', () => {
  let testDb: TestDb;
  let smtp: SmtpCatcher;
  let sink: TwilioSink;
  let email: ReturnType<typeof createEmailChannel>;
  let activities: ReturnType<typeof createActivities>;
  let push: { url: string; close(): Promise<void> };
  const env = new MockActivityEnvironment();
  const unused = () => Promise.reject(new Error('not used by this test'));

  beforeAll(async () => {
    [testDb, smtp, sink] = await Promise.all([createTestDb(), startSmtpCatcher(), startTwilioSink()]);
    // A push receiver that refuses the message and echoes what it was sent, as receivers do.
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid device', echoed: JSON.parse(body) as unknown })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    push = { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/push`, close: () => new Promise((r) => server.close(() => r())) };
    email = createEmailChannel({ smtpUrl: smtp.smtpUrl, from: 'Bank <journeys@bank.example>' });
    activities = createActivities({
      db: testDb.db,
      channels: channelsWith({
        email,
        sms: createSmsChannel({ accountSid: 'AC' + '1'.repeat(32), authToken: 'secret', from: '+15005550006', apiBaseUrl: sink.url }),
        webhook: createWebhookChannel({ url: push.url, secret: 'scrub-test-secret-0123456789' }),
      }),
      templates: { snapshot: async () => TemplateStore.fromFiles() },
      policy: loadPolicy(NO_LIMITS),
      chorus: { chorusStart: unused, chorusSignal: unused, chorusStop: unused },
    });
  });
  afterAll(async () => {
    email?.close();
    await Promise.all([smtp?.close(), sink?.close(), push?.close()]);
    await testDb?.drop();
  });

  const send = (customerId: string, channel: SendInput['channel'], template: string) =>
    env.run(activities.sendMessage, {
      idempotencyKey: `${customerId}/1`,
      workflowId: `journey:bank-loan:${customerId}`,
      customerId,
      channel,
      template,
      flow: 'test',
      vars: { event: { limit: 1000, expiresAt: '2027-01-01' }, params: {} },
    });

  it.each([
    ['sms', 'loan-comparison-nudge', '+8613800138000', "The 'To' number [phone] is not a valid phone number"],
    ['email', 'loan-approved', 'someone@example.com', '<[email]>: Recipient address rejected'],
    ['webhook', 'fund-detail-guide', 'Zhang San', 'webhook answered 422'],
  ] as const)('a refused %s: the failure, the message row and its event carry no number, address or name', async (channel, template, personal, expected) => {
    const id = `scrub-${channel}`;
    await testDb.db.customer.create({
      data: { id, name: 'Zhang San', email: 'someone@example.com', phone: '+8613800138000', timeZone: 'Asia/Shanghai', consents: { email: true, sms: true, webhook: true } },
    });
    sink.refuseNumber('+8613800138000');
    smtp.refuseRecipient('someone@example.com');
    const err = await send(id, channel, template).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(expected);
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } });
    expect(row).toMatchObject({ status: 'failed', statusReason: 'rejected_by_provider' });
    expect(row.error).toContain(expected);
    const events = JSON.stringify(await testDb.db.messageEvent.findMany({ where: { messageId: row.id }, select: { type: true, detail: true } }));
    for (const text of [failure.message, failure.stack ?? '', row.error ?? '', events]) {
      expect(text).not.toContain(personal);
      expect(text).not.toContain('Zhang San');
      expect(text).not.toContain('13800138000');
      expect(text).not.toContain('someone@example.com');
    }
  });
});
