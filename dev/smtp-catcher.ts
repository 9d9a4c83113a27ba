// A real SMTP server that keeps every mail it receives, for tests and for `npm start`. Plain SMTP (no TLS, the
// STARTTLS command is disabled), authentication optional and any credentials accepted. With `httpPort` it also
// serves a small page listing the captured mail. `hold()` keeps the reply to the end of each mail's DATA back until
// `release()`: the mail is captured (the server has it) and the sender waits for its 250, as when it dies mid-send.
// With `dataDir` it keeps the mail in `<dataDir>/mail.jsonl` and shows what earlier runs captured.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import path from 'node:path';
import { closeHttpServer, escapeHtml, Inbox, listen, page, PAGE_HEADERS, urlHost, withDates } from './capture.js';
import { Hold } from './hold.js';

export type CapturedMail = {
  /** Sequence number within this catcher, as a string ("1", "2", ...). */
  id: string;
  /** The Message-ID header ('' when absent). */
  messageId: string;
  /** The From header as "Name <address>" ("Journeys <journeys@localhost>"), else the envelope sender. */
  from: string;
  /** Envelope recipients (RCPT TO), i.e. everyone the mail was delivered to, Bcc included. */
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** The user name the client authenticated with, if it did. */
  authUser?: string;
  /** All headers, lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  receivedAt: Date;
};

export type SmtpCatcher = {
  smtpPort: number;
  /** smtp://HOST:PORT — what SMTP_URL should be. */
  smtpUrl: string;
  /** The mail page, when started with `httpPort`. */
  httpUrl?: string;
  messages(): CapturedMail[];
  /** Resolves with the first captured mail (already there or arriving later) that matches. */
  waitFor(predicate: (mail: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  clear(): void;
  /** RCPT TO this address is refused as a mail server refuses an unknown mailbox (550 5.1.1 … Recipient address rejected). */
  refuseRecipient(address: string): void;
  /** From now on, each mail is captured but the reply to its DATA is held back until `release()`. */
  hold(): void;
  /** Mails whose DATA reply is held right now. */
  held(): number;
  /** Resolves once at least `count` replies are held. */
  waitForHeld(count: number, timeoutMs?: number): Promise<void>;
  /** Sends the held replies (to senders still connected) and stops holding. */
  release(): void;
  close(): Promise<void>;
};

export type SmtpCatcherOptions = {
  /** 0 or undefined: a free port. */
  smtpPort?: number;
  /** Serve the mail page on this port (0: a free port). Undefined: no page. */
  httpPort?: number;
  host?: string;
  log?: (msg: string) => void;
  /** Keep the captured mail in this folder (mail.jsonl), and load what it holds: a restart still shows earlier mail. */
  dataDir?: string;
};

export const MAIL_FILE = 'mail.jsonl';

const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

export async function startSmtpCatcher(opts: SmtpCatcherOptions = {}): Promise<SmtpCatcher> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const inbox = new Inbox<CapturedMail>('mail', opts.dataDir ? { path: path.join(opts.dataDir, MAIL_FILE), revive: withDates('receivedAt') } : undefined);
  let seq = Math.max(0, ...inbox.list().map((m) => Number(m.id) || 0));
  const holding = new Hold();
  const refused = new Set<string>();

  const smtp = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true, // AUTH without TLS (smtp-server already allows it when STARTTLS is disabled)
    disabledCommands: ['STARTTLS'],
    logger: false,
    banner: 'journeys dev SMTP catcher',
    size: MAX_MESSAGE_BYTES,
    closeTimeout: 2000,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onRcptTo(address, _session, callback) {
      if (!refused.has(address.address.toLowerCase())) return callback();
      callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in virtual mailbox table`), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const headers: Record<string, string> = {};
          for (const line of parsed.headerLines) {
            const value = line.line.slice(line.line.indexOf(':') + 1).trim();
            headers[line.key] = headers[line.key] === undefined ? value : `${headers[line.key]}, ${value}`;
          }
          const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const mail: CapturedMail = {
            id: String(++seq),
            messageId: parsed.messageId ?? '',
            from: addressText(parsed.from) || envelopeFrom,
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
            ...(typeof session.user === 'string' ? { authUser: session.user } : {}),
            headers,
            receivedAt: new Date(),
          };
          inbox.add(mail);
          log(`smtp-catcher: mail #${mail.id} to ${mail.to.join(', ')}: ${mail.subject}`);
          return holding.gate().then(() => callback(null, `queued as ${mail.id}`));
        })
        .catch((err: unknown) => callback(err as Error));
    },
  });
  smtp.on('error', (err) => log(`smtp-catcher: ${err.message}`));

  const smtpPort = await listen(smtp.server, opts.smtpPort ?? 0, host);

  let http: ReturnType<typeof createServer> | undefined;
  let httpUrl: string | undefined;
  if (opts.httpPort !== undefined) {
    http = createServer((req, res) => servePage(req, res, inbox));
    try {
      const httpPort = await listen(http, opts.httpPort, host);
      httpUrl = `http://${urlHost(host)}:${httpPort}`;
    } catch (err) {
      await new Promise<void>((r) => smtp.close(() => r()));
      throw err;
    }
  }

  let closing: Promise<void> | undefined;
  return {
    smtpPort,
    smtpUrl: `smtp://${urlHost(host)}:${smtpPort}`,
    ...(httpUrl ? { httpUrl } : {}),
    messages: () => inbox.list(),
    waitFor: (predicate, timeoutMs = 10_000) => inbox.waitFor(predicate, timeoutMs, (m) => `#${m.id} to ${m.to.join(',')} "${m.subject}"`),
    clear: () => {
      inbox.clear();
      refused.clear();
    },
    refuseRecipient: (address) => void refused.add(address.trim().toLowerCase()),
    hold: () => holding.start(),
    held: () => holding.count,
    waitForHeld: (count, timeoutMs) => holding.waitFor(count, timeoutMs),
    release: () => holding.release(),
    close() {
      holding.release();
      closing ??= Promise.all([new Promise<void>((r) => smtp.close(() => r())), http ? closeHttpServer(http) : Promise.resolve()]).then(() => undefined);
      return closing;
    },
  };
}

/** "Name <address>" (unquoted) or "address", comma-separated. */
function addressText(address: AddressObject | AddressObject[] | undefined): string {
  if (!address) return '';
  return (Array.isArray(address) ? address : [address])
    .flatMap((a) => a.value)
    .map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? '')))
    .join(', ');
}

function servePage(req: IncomingMessage, res: ServerResponse, inbox: Inbox<CapturedMail>): void {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method === 'DELETE' && path === '/messages') {
    inbox.clear();
    res.writeHead(204).end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD, DELETE' }).end();
    return;
  }
  if (path === '/messages.json') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(inbox.list().reverse()));
    return;
  }
  if (path === '/') {
    const mails = inbox.list().reverse();
    const rows = mails
      .map(
        (m) => `<tr><td><a href="/messages/${encodeURIComponent(m.id)}">#${escapeHtml(m.id)}</a></td>
<td>${escapeHtml(m.receivedAt.toISOString())}</td><td>${escapeHtml(m.from)}</td><td>${escapeHtml(m.to.join(', '))}</td>
<td>${escapeHtml(m.subject)}</td></tr>`,
      )
      .join('');
    const body =
      `<h1>Captured mail</h1><p class="muted">${mails.length} message(s), newest first. ` +
      `<a href="/messages.json">JSON</a></p>` +
      (mails.length === 0 ? '<p>No mail yet.</p>' : `<table><tr><th>#</th><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr>${rows}</table>`);
    res.writeHead(200, PAGE_HEADERS).end(page('Captured mail', body));
    return;
  }
  const match = /^\/messages\/([^/]+)$/.exec(path);
  const mail = match ? inbox.list().find((m) => m.id === decodeURIComponent(match[1] ?? '')) : undefined;
  if (!mail) {
    res.writeHead(404, PAGE_HEADERS).end(page('Not found', '<h1>Not found</h1><p><a href="/">All mail</a></p>'));
    return;
  }
  const headerRows = Object.entries(mail.headers)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  // The HTML body is shown in a sandboxed frame (no scripts, no forms, no navigation, no remote content under the
  // page's Content-Security-Policy), with srcdoc escaped as an attribute value.
  const html = mail.html === undefined ? '' : `<h2>HTML</h2><iframe sandbox="" referrerpolicy="no-referrer" srcdoc="${escapeHtml(mail.html)}"></iframe>`;
  const body = `<p><a href="/">All mail</a></p><h1>${escapeHtml(mail.subject || '(no subject)')}</h1>
<table><tr><th>From</th><td>${escapeHtml(mail.from)}</td></tr><tr><th>To</th><td>${escapeHtml(mail.to.join(', '))}</td></tr>
<tr><th>Received</th><td>${escapeHtml(mail.receivedAt.toISOString())}</td></tr></table>
<h2>Text</h2><pre>${escapeHtml(mail.text)}</pre>${html}<h2>Headers</h2><table>${headerRows}</table>`;
  res.writeHead(200, PAGE_HEADERS).end(page(mail.subject || 'Mail', body));
}
