// Fault injection on the real stack, the worker running as its own process (npm run worker's entry) so it can be
// SIGKILLed. Two cases:
// - outages: the SMTP server down for 30 s, the Twilio-compatible server answering 500 and 429 for a while, and the
//   worker killed while its sends are failing and being retried (no request is at a provider then): nothing is lost
//   and nothing doubled;
// - mid-send: the worker killed while the SMTP server, Twilio and the webhook receiver each hold its requests open,
//   having accepted them. What each channel's customers then receive is measured and printed per channel.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpCatcher, type SmtpCatcher } from '../dev/smtp-catcher.js';
import { messageIdFor } from '../channels/email.js';
import { eventually, NO_LIMITS, startStack, type Stack, TEST_PAYLOAD_ENV } from './support/stack.js';
import { freePort } from './support/ports.js';
import { projectRoot } from './support/temporal.js';

let stack: Stack;
let smtp: SmtpCatcher | undefined;
const workers: ChildProcess[] = [];

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(child);
  return child;
}
const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

beforeAll(async () => {
  stack = await startStack();
  const probe = {
    key: 'fault-probe',
    version: 1,
    name: 'Fault probe',
    stages: [
      {
        key: 'welcome',
        label: 'Welcome',
        onEnter: [
          { type: 'send', channel: 'email', template: 'lifecycle-thanks' },
          { type: 'send', channel: 'sms', template: 'lifecycle-consideration' },
        ],
      },
    ],
    initialStage: 'welcome',
  };
  const d = await stack.definitions.createDraft(probe, 'test:designer');
  await stack.definitions.publish('fault-probe', d.version, 'test:ops');
  // One journey per channel, so a held email does not keep a customer's SMS waiting behind it.
  for (const [channel, template] of [
    ['email', 'lifecycle-thanks'],
    ['sms', 'lifecycle-consideration'],
    ['webhook', 'fund-detail-guide'],
  ] as const) {
    const key = `midsend-${channel}`;
    const draft = await stack.definitions.createDraft(
      {
        key,
        version: 1,
        name: `Mid-send ${channel}`,
        initialStage: 'one',
        stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'send', channel, template }] }],
      },
      'test:designer',
    );
    await stack.definitions.publish(key, draft.version, 'test:ops');
  }
});
afterAll(async () => {
  for (const w of workers)
    if (w.exitCode === null && w.signalCode === null) {
      w.kill('SIGTERM');
      await exited(w);
    }
  await smtp?.close();
  await stack?.stop();
});

describe('faults', () => {
  it('loses no message and doubles none through an SMTP outage, Twilio 500s and 429s, and a worker killed between retries', { timeout: 240_000 }, async () => {
    const N = 20;
    const smtpPort = await freePort(); // nothing listens there yet: the SMTP server is down
    const downSince = Date.now();
    stack.sms.failNext(8, 500);
    stack.sms.failNext(4, 429);
    const env = {
      DATABASE_URL: stack.config.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      ...TEST_PAYLOAD_ENV,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      TWILIO_API_BASE_URL: stack.sms.url,
      WEBHOOK_URL: stack.config.webhook.url,
      WEBHOOK_SECRET: stack.config.webhook.secret,
      CONTACT_POLICY: NO_LIMITS,
      PORT: '0', // no API here to take Twilio's status callbacks
    };
    const first = startWorkerProcess(env);

    const ids = Array.from({ length: N }, (_, i) => `fault-${i}`);
    for (const [i, id] of ids.entries())
      await stack.testDb.db.customer.create({ data: { id, name: `F${i}`, email: `${id}@example.com`, phone: `+1555123${String(i).padStart(4, '0')}` } });
    await Promise.all(ids.map((id) => stack.service.startJourney({ journeyKey: 'fault-probe', customerId: id, via: 'api' })));
    const messages = () => stack.testDb.db.message.findMany({ where: { customerId: { in: ids } }, include: { events: true } });

    // Sends are under way and failing: kill the worker in the middle of them, start another.
    // (a journey's sends go one after the other: its SMS waits behind its email)
    await eventually(messages, (m) => m.filter((x) => x.channel === 'email' && x.events.some((e) => e.type === 'error')).length === N, 60_000);
    first.kill('SIGKILL');
    await exited(first);
    const second = startWorkerProcess(env);

    // The SMTP server comes back after 30 s.
    await new Promise((r) => setTimeout(r, Math.max(0, downSince + 30_000 - Date.now())));
    smtp = await startSmtpCatcher({ smtpPort });

    const done = await eventually(messages, (m) => m.length === 2 * N && m.every((x) => x.status === 'sent'), 150_000);
    const mails = smtp.messages().filter((m) => m.to.some((t) => t.startsWith('fault-')));
    const sms = stack.sms.messages().filter((m) => m.to.startsWith('+1555123'));
    const errors = done.flatMap((m) => m.events).filter((e) => e.type === 'error').length;
    const perRecipient = (list: string[]) => new Map(list.map((r) => [r, list.filter((x) => x === r).length]));
    const mailCounts = perRecipient(mails.flatMap((m) => m.to));
    const smsCounts = perRecipient(sms.map((m) => m.to));
    const lost = 2 * N - mailCounts.size - smsCounts.size;
    const doubled = [...mailCounts.values(), ...smsCounts.values()].filter((c) => c > 1).length;
    process.stdout.write(
      `faults: ${2 * N} messages; ${mails.length} emails and ${sms.length} SMS received; ${lost} lost, ${doubled} duplicated; ${errors} transient errors retried; worker killed once\n`,
    );
    expect(mailCounts.size).toBe(N);
    expect(smsCounts.size).toBe(N);
    expect(lost).toBe(0);
    expect(doubled).toBe(0);
    expect(mails).toHaveLength(N);
    expect(sms).toHaveLength(N);
    expect(errors).toBeGreaterThanOrEqual(N + 12); // every email failed at least once; 8 + 4 Twilio faults
    second.kill('SIGTERM');
    await exited(second);
  });
  it('a worker SIGKILLed while the providers hold its sends: no SMS twice; email and push copies carry one key', { timeout: 240_000 }, async () => {
    const N = 5;
    const env = {
      DATABASE_URL: stack.config.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      ...TEST_PAYLOAD_ENV,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      SMTP_URL: stack.config.smtp.url,
      TWILIO_API_BASE_URL: stack.sms.url,
      WEBHOOK_URL: stack.config.webhook.url,
      WEBHOOK_SECRET: stack.config.webhook.secret,
      CONTACT_POLICY: NO_LIMITS,
      PORT: '0',
    };
    const ids = Array.from({ length: N }, (_, i) => `midsend-${i}`);
    for (const [i, id] of ids.entries())
      await stack.testDb.db.customer.create({ data: { id, name: `M${i}`, email: `${id}@example.com`, phone: `+1555987${String(i).padStart(4, '0')}` } });
    const first = startWorkerProcess(env);
    // Each provider accepts what arrives and keeps its answer back.
    stack.smtp.hold();
    stack.sms.hold();
    stack.push.hold();
    for (const id of ids) for (const channel of ['email', 'sms', 'webhook']) await stack.service.startJourney({ journeyKey: `midsend-${channel}`, customerId: id, via: 'api' });
    await Promise.all([stack.smtp.waitForHeld(N, 60_000), stack.sms.waitForHeld(N, 60_000), stack.push.waitForHeld(N, 60_000)]);
    const messages = () => stack.testDb.db.message.findMany({ where: { customerId: { in: ids } }, include: { events: { orderBy: { id: 'asc' } } } });
    const inFlight = await messages();
    expect(inFlight).toHaveLength(3 * N);
    expect(inFlight.every((m) => m.status === 'sending' && m.attempts === 1)).toBe(true);

    // Every send is at a provider, accepted, unanswered: kill the worker now.
    first.kill('SIGKILL');
    await exited(first);
    stack.smtp.release();
    stack.sms.release();
    stack.push.release();
    const second = startWorkerProcess(env);
    // The killed attempts time out (the activity's start-to-close timeout) and are retried by the new worker.
    const done = await eventually(messages, (m) => m.every((x) => x.status === 'sent'), 120_000);
    second.kill('SIGTERM');
    await exited(second);

    const mails = stack.smtp.messages().filter((m) => m.to.some((t) => t.startsWith('midsend-')));
    const sms = stack.sms.messages().filter((m) => m.to.startsWith('+1555987'));
    const pushes = stack.push.messages().filter((p) => p.customerId.startsWith('midsend-'));
    const arrivals = {
      email: mails.map((m) => ({ customer: m.to[0]!.split('@')[0]!, key: m.messageId })),
      sms: sms.map((m) => ({ customer: `midsend-${Number(m.to.slice(-4))}`, key: m.sid })),
      webhook: pushes.map((p) => ({ customer: p.customerId, key: p.idempotencyKey ?? '' })),
    };
    const figures = Object.entries(arrivals).map(([channel, list]) => {
      const per = (f: (a: { customer: string; key: string }) => string) => ids.map((id) => new Set(list.filter((a) => a.customer === id).map(f)).size);
      const raw = ids.map((id) => list.filter((a) => a.customer === id).length);
      const distinct = per((a) => a.key);
      return {
        channel,
        customers: N,
        arrivals: list.length,
        lost: raw.filter((c) => c === 0).length,
        doubledRaw: raw.filter((c) => c > 1).length,
        doubledAfterKey: distinct.filter((c) => c > 1).length,
      };
    });
    console.log(
      [
        'mid-send kill: per channel, customers receiving the message twice (raw, and after dropping copies with the same key)',
        'channel  customers  arrivals  lost  doubled(raw)  doubled(after key)',
        ...figures.map(
          (f) =>
            `${f.channel.padEnd(8)} ${String(f.customers).padStart(9)} ${String(f.arrivals).padStart(9)} ${String(f.lost).padStart(5)} ${String(f.doubledRaw).padStart(13)} ${String(f.doubledAfterKey).padStart(19)}`,
        ),
      ].join('\n'),
    );

    // Nothing lost anywhere.
    expect(figures.map((f) => f.lost)).toEqual([0, 0, 0]);
    // SMS: each in-doubt send was found at Twilio and recorded; no customer got it twice.
    const smsRows = done.filter((m) => m.channel === 'sms');
    expect(sms).toHaveLength(N);
    expect(new Set(smsRows.map((m) => m.providerId))).toEqual(new Set(sms.map((m) => m.sid)));
    expect(smsRows.every((m) => m.attempts === 1 && m.events.some((e) => e.type === 'sent' && (e.detail as { reconciled?: boolean }).reconciled === true))).toBe(true);
    // Email and push cannot be asked: the retry sends again, at most once more per killed attempt (one kill here), and
    // every copy carries the message's key (Message-ID / Idempotency-Key), so a receiver that drops repeats sees one.
    for (const f of figures.filter((x) => x.channel !== 'sms')) {
      expect(f.arrivals).toBeLessThanOrEqual(2 * N);
      expect(f.doubledAfterKey).toBe(0);
    }
    for (const row of done.filter((m) => m.channel === 'email')) {
      const copies = mails.filter((m) => m.to.includes(row.recipient!));
      expect(copies.every((m) => m.messageId === messageIdFor(row.idempotencyKey, 'localhost') && m.messageId === row.providerId)).toBe(true);
    }
    for (const row of done.filter((m) => m.channel === 'webhook'))
      expect(pushes.filter((p) => p.customerId === row.customerId).every((p) => p.idempotencyKey === row.idempotencyKey && p.id === row.idempotencyKey)).toBe(true);
  });
});
