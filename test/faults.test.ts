// Fault injection on the real stack: the SMTP server down for 30 s, the Twilio-compatible server answering 500 and 429
// for a while, and the worker killed with SIGKILL while sends are under way. At the end every message is sent exactly
// once: none lost, none doubled. The worker runs as its own process (npm run worker's entry) so it can be killed.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpCatcher, type SmtpCatcher } from '../dev/smtp-catcher.js';
import { eventually, NO_LIMITS, startStack, type Stack } from './support/stack.js';
import { projectRoot } from './support/temporal.js';

let stack: Stack;
let smtp: SmtpCatcher | undefined;
const workers: ChildProcess[] = [];

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: projectRoot, env: { ...process.env, ...env, LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit'] });
  workers.push(child);
  return child;
}
const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

beforeAll(async () => {
  stack = await startStack();
  const probe = {
    key: 'fault-probe', version: 1, name: 'Fault probe', stages: [{ key: 'welcome', label: 'Welcome', onEnter: [
      { type: 'send', channel: 'email', template: 'lifecycle-thanks' },
      { type: 'send', channel: 'sms', template: 'lifecycle-consideration' },
    ] }], initialStage: 'welcome',
  };
  const d = await stack.definitions.createDraft(probe);
  await stack.definitions.publish('fault-probe', d.version);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) { w.kill('SIGTERM'); await exited(w); }
  await smtp?.close();
  await stack?.stop();
});

describe('faults', () => {
  it('loses no message and doubles none through an SMTP outage, Twilio 500s and 429s, and a killed worker', { timeout: 240_000 }, async () => {
    const N = 20;
    const smtpPort = await freePort(); // nothing listens there yet: the SMTP server is down
    const downSince = Date.now();
    stack.sms.failNext(8, 500);
    stack.sms.failNext(4, 429);
    const env = {
      DATABASE_URL: stack.config.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      TWILIO_API_BASE_URL: stack.sms.url,
      WEBHOOK_URL: stack.config.webhook.url,
      WEBHOOK_SECRET: stack.config.webhook.secret,
      CONTACT_POLICY: NO_LIMITS,
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
    process.stdout.write(`faults: ${2 * N} messages; ${mails.length} emails and ${sms.length} SMS received; ${lost} lost, ${doubled} duplicated; ${errors} transient errors retried; worker killed once\n`);
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
});
