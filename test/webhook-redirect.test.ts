// The webhook channel does not follow redirects: a 3xx would carry the signed body to another host. Two real local
// HTTP servers: the configured one answers a redirect to the second, which must receive nothing.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentChannelError } from '../channels/channel.js';
import { createWebhookChannel } from '../channels/webhook.js';

type Seen = { method: string; url: string; body: string };

function serve(handler: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string> }) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      const { status, headers } = handler(req, body);
      res.writeHead(status, headers).end('{}');
    });
  });
  return { server, seen };
}
const listen = (server: Server) => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

let elsewhere: ReturnType<typeof serve>;
let elsewhereUrl: string;
let redirecting: ReturnType<typeof serve>;
let redirectingUrl: string;
let redirectStatus = 307;

beforeAll(async () => {
  elsewhere = serve(() => ({ status: 200 }));
  elsewhereUrl = await listen(elsewhere.server);
  redirecting = serve(() => ({ status: redirectStatus, headers: { location: `${elsewhereUrl}/collect?token=abc` } }));
  redirectingUrl = await listen(redirecting.server);
});
afterAll(async () => {
  await Promise.all([close(elsewhere.server), close(redirecting.server)]);
});

describe('the webhook channel and redirects', () => {
  it.each([307, 308, 301, 302, 303])('a %i is a permanent failure and the other host receives nothing', async (status) => {
    redirectStatus = status;
    const before = redirecting.seen.length;
    const channel = createWebhookChannel({ url: `${redirectingUrl}/push`, secret: 'redirect-test-secret-0123' });
    const err = await channel.send({ to: 'c-1', subject: 'Title', text: 'Body', idempotencyKey: `k-${status}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentChannelError);
    expect((err as PermanentChannelError).code).toBe(status);
    expect((err as Error).message).toContain(`webhook answered ${status} (a redirect to ${elsewhereUrl})`);
    expect((err as Error).message).not.toContain('token=abc');
    expect(redirecting.seen.length).toBe(before + 1); // the configured receiver got the signed POST
    expect(redirecting.seen.at(-1)).toMatchObject({ method: 'POST', url: '/push' });
    expect(elsewhere.seen).toEqual([]);
  });

  it('a direct 2xx is still a delivery', async () => {
    const before = elsewhere.seen.length;
    const channel = createWebhookChannel({ url: `${elsewhereUrl}/push`, secret: 'redirect-test-secret-0123' });
    await expect(channel.send({ to: 'c-2', text: 'Body', idempotencyKey: 'k-ok' })).resolves.toEqual({ providerId: 'k-ok' });
    expect(elsewhere.seen.slice(before)).toMatchObject([{ method: 'POST', url: '/push' }]);
  });
});
