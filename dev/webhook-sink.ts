// A local receiver for the webhook channel (app pushes): checks the HMAC signature the service sends, records what
// arrives, and lists it on a page. Used by the tests and by `npm start`; can be told to fail (`failNext`) or to hold
// its answers (`hold`: a push is recorded, the sender waits for the 202 until `release()`, as when it dies mid-send).
// Each push is recorded with its Idempotency-Key, so a test can count raw arrivals and distinct keys. With `dataDir` it
// keeps the pushes in `<dataDir>/pushes.jsonl` and shows what earlier runs received.
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../channels/webhook.js';
import path from 'node:path';
import { closeHttpServer, escapeHtml, Inbox, listen, page, PAGE_HEADERS, urlHost, withDates } from './capture.js';
import { Hold } from './hold.js';

export type ReceivedPush = { id: string; customerId: string; title: string | null; text: string; idempotencyKey: string | null; receivedAt: Date };

export type WebhookSink = {
  /** The URL to configure as WEBHOOK_URL. */
  url: string;
  messages(): ReceivedPush[];
  waitFor(predicate: (p: ReceivedPush) => boolean, timeoutMs?: number): Promise<ReceivedPush>;
  failNext(count: number, status: number): void;
  /** From now on, each valid push is recorded but not answered until `release()`. */
  hold(): void;
  /** Pushes whose answer is held right now. */
  held(): number;
  /** Resolves once at least `count` answers are held. */
  waitForHeld(count: number, timeoutMs?: number): Promise<void>;
  /** Sends the held answers (to senders still connected) and stops holding. */
  release(): void;
  close(): Promise<void>;
};

export const PUSHES_FILE = 'pushes.jsonl';

export async function startWebhookSink(opts: {
  secret: string;
  port?: number;
  host?: string;
  /** Keep the pushes in this folder (pushes.jsonl), and load what it holds: a restart still shows earlier pushes. */
  dataDir?: string;
}): Promise<WebhookSink> {
  const host = opts.host ?? '127.0.0.1';
  const inbox = new Inbox<ReceivedPush>('push', opts.dataDir ? { path: path.join(opts.dataDir, PUSHES_FILE), revive: withDates('receivedAt') } : undefined);
  const faults: number[] = [];
  const holding = new Hold();
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      const rows = inbox
        .list()
        .reverse()
        .map(
          (p) =>
            `<tr><td>${escapeHtml(p.receivedAt.toISOString())}</td><td>${escapeHtml(p.customerId)}</td><td>${escapeHtml(p.title)}</td><td><pre>${escapeHtml(p.text)}</pre></td></tr>`,
        )
        .join('');
      res
        .writeHead(200, PAGE_HEADERS)
        .end(page('Pushes', `<h1>Pushes (webhook channel)</h1><table><tr><th>received</th><th>customer</th><th>title</th><th>text</th></tr>${rows}</table>`));
      return;
    }
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fault = faults.shift();
      if (fault !== undefined) return void res.writeHead(fault, { 'content-type': 'application/json' }).end('{"error":"injected"}');
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers[TIMESTAMP_HEADER] ?? '');
      const sig = Buffer.from(String(req.headers[SIGNATURE_HEADER] ?? ''));
      const want = Buffer.from(signWebhook(opts.secret, ts, body));
      if (sig.length !== want.length || !timingSafeEqual(sig, want)) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"bad signature"}');
      try {
        const p = JSON.parse(body) as { id: string; customerId: string; title: string | null; text: string };
        const key = req.headers['idempotency-key'];
        inbox.add({ id: p.id, customerId: p.customerId, title: p.title, text: p.text, idempotencyKey: typeof key === 'string' ? key : null, receivedAt: new Date() });
        void holding.gate().then(() => res.writeHead(202, { 'content-type': 'application/json', 'x-request-id': `push-${p.id}` }).end('{"accepted":true}'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"not JSON"}');
      }
    });
  });
  const port = await listen(server, opts.port ?? 0, host);
  return {
    url: `http://${urlHost(host)}:${port}/push`,
    messages: () => inbox.list(),
    waitFor: (predicate, timeoutMs = 10_000) => inbox.waitFor(predicate, timeoutMs, (p) => `${p.customerId}: ${p.title}`),
    failNext: (count, status) => void faults.push(...Array<number>(count).fill(status)),
    hold: () => holding.start(),
    held: () => holding.count,
    waitForHeld: (count, timeoutMs) => holding.waitFor(count, timeoutMs),
    release: () => holding.release(),
    close: () => {
      holding.release();
      return closeHttpServer(server);
    },
  };
}
