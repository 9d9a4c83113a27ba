// Shared plumbing of the local peers (SMTP catcher, Twilio sink): a list of captured items that tests can await,
// HTML escaping for their pages, and listening on a port.
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';

/** Captured items in arrival order, with an event-driven `waitFor`. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #events = new EventEmitter();

  constructor(private readonly what: string) {
    this.#events.setMaxListeners(0);
  }

  add(item: T): void {
    this.#items.push(item);
    this.#events.emit('item', item);
  }

  list(): T[] {
    return [...this.#items];
  }

  clear(): void {
    this.#items.length = 0;
  }

  /**
   * The first item (already captured or arriving later) that matches. Rejects after `timeoutMs` with a message
   * that lists what did arrive, so a failing test says why.
   */
  waitFor(predicate: (item: T) => boolean, timeoutMs: number, describe: (item: T) => string): Promise<T> {
    const found = this.#items.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const onItem = (item: T): void => {
        let matches: boolean;
        try {
          matches = predicate(item);
        } catch (err) {
          done();
          reject(err as Error);
          return;
        }
        if (!matches) return;
        done();
        resolve(item);
      };
      const timer = setTimeout(() => {
        done();
        const seen = this.#items.map(describe);
        reject(new Error(`no matching ${this.what} within ${timeoutMs} ms; ${seen.length} captured` + (seen.length > 0 ? `: ${seen.slice(-10).join('; ')}` : '')));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#events.off('item', onItem);
      };
      this.#events.on('item', onItem);
    });
  }
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Listens on host:port (0 = any free port) and resolves with the port actually bound. */
export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Closes a server and drops its open keep-alive connections. */
export function closeHttpServer(server: HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A small self-contained HTML page; `body` must already be escaped. */
export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}pre{white-space:pre-wrap;
background:#f6f6f6;padding:1em}iframe{width:100%;height:60vh;border:1px solid #ccc}.muted{color:#777}</style>
</head><body>${body}</body></html>`;
}

/** Headers for the peers' pages: no scripts, no remote content, not framed by others. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;
