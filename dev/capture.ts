// Shared plumbing of the local peers (SMTP catcher, Twilio sink, webhook sink): a list of captured items that tests can
// await, optionally kept in a file so that a restart of `npm start` still shows them, HTML escaping for their pages,
// and listening on a port.
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';

/** Where an inbox keeps its items (one JSON document a line, readable by this user only), and how an item is made
 * from its JSON again (its dates, above all). */
export type InboxFile<T> = { path: string; revive: (json: Record<string, unknown>) => T };

/** Items a kept inbox loads at most: the newest ones (the file is rewritten without the older ones). */
export const MAX_KEPT_ITEMS = 10_000;

/** Captured items in arrival order, with an event-driven `waitFor`; kept in a file when given one. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #events = new EventEmitter();

  constructor(
    private readonly what: string,
    private readonly file?: InboxFile<T>,
  ) {
    this.#events.setMaxListeners(0);
    if (file && existsSync(file.path)) this.#load(file);
  }

  #load(file: InboxFile<T>): void {
    const lines = readFileSync(file.path, 'utf8').split('\n');
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        this.#items.push(file.revive(JSON.parse(line) as Record<string, unknown>));
      } catch {
        // a line cut short by a crash mid-write: skipped
      }
    }
    if (this.#items.length > MAX_KEPT_ITEMS) {
      this.#items.splice(0, this.#items.length - MAX_KEPT_ITEMS);
      writeFileSync(file.path, this.#items.map((i) => `${JSON.stringify(i)}\n`).join(''), { mode: 0o600 });
    }
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.file) appendFileSync(this.file.path, `${JSON.stringify(item)}\n`, { mode: 0o600 });
    this.#events.emit('item', item);
  }

  list(): T[] {
    return [...this.#items];
  }

  clear(): void {
    this.#items.length = 0;
    if (this.file) writeFileSync(this.file.path, '', { mode: 0o600 });
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

/** A reviver for items whose `keys` hold dates (JSON has them as ISO strings). */
export function withDates<T>(...keys: string[]): (json: Record<string, unknown>) => T {
  return (json) => {
    const item: Record<string, unknown> = { ...json };
    for (const key of keys) if (typeof item[key] === 'string') item[key] = new Date(item[key]);
    return item as T;
  };
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
