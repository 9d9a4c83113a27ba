// A local HTTP server that speaks the part of Twilio's REST API the service uses (Messages: create, fetch and list), so
// the real `twilio` client can send to it (see channels/twilio-http.ts). It checks what Twilio checks first
// (Basic auth, a valid E.164 `To`, a From and a Body), answers with Twilio's resource and error shapes, and can be
// told to fail the next requests (`failNext`) to exercise retries.
//
// A message created with a StatusCallback gets Twilio's delivery status callbacks, after the create is answered:
// `sent`, then `delivered` (or `undelivered` with ErrorCode 30003 for numbers given to `failDelivery`), each a
// form POST signed with X-Twilio-Signature under the auth token of the create request, as Twilio signs them.
//
// The list (GET .../Messages.json) filters by To, From and DateSent / DateSent> / DateSent< as Twilio does: by the
// UTC day of date_sent (a message is handed to the carrier, and gets its date_sent, as it is accepted here), newest
// first, paged with PageSize and Page. `hold()` keeps the answer to each accepted create back until `release()`: the
// message is accepted (listed, and sent on to the customer) while the sender waits, as when it dies mid-request.
// With `dataDir` it keeps the messages and the status callbacks made in `<dataDir>/sms.jsonl` and
// `<dataDir>/sms-callbacks.jsonl`, and shows (and lists, with their last status) what earlier runs accepted.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import twilio from 'twilio';
import path from 'node:path';
import { closeHttpServer, escapeHtml, Inbox, type InboxFile, listen, page, PAGE_HEADERS, urlHost, withDates } from './capture.js';
import { Hold } from './hold.js';

export type SentSms = {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string;
  statusCallback?: string;
  receivedAt: Date;
};

export type FaultStatus = 500 | 429 | 503;

export type CallbackStatus = 'sent' | 'delivered' | 'undelivered';

/** One status callback the sink made (or tried to make). */
export type StatusCallbackRecord = {
  sid: string;
  status: CallbackStatus;
  url: string;
  /** The form fields sent, and their signature: enough to replay the callback exactly. */
  params: Record<string, string>;
  signature: string;
  /** The callback target's answer; null when it could not be reached (see `error`). */
  httpStatus: number | null;
  error?: string;
  at: Date;
};

export type TwilioSink = {
  /** Base URL (http://HOST:PORT): what TWILIO_API_BASE_URL should be. */
  url: string;
  messages(): SentSms[];
  /** Resolves with the first accepted SMS (already there or arriving later) that matches. */
  waitFor(predicate: (sms: SentSms) => boolean, timeoutMs?: number): Promise<SentSms>;
  /** The next `count` message creates fail with `status` (429 carries Retry-After: 1) and are not recorded. */
  failNext(count: number, status: FaultStatus): void;
  /** Messages created to this number end `undelivered` (ErrorCode 30003) instead of `delivered`. */
  failDelivery(to: string): void;
  /** Creates to this number are refused as Twilio refuses a number it cannot send to (400, code 21211). */
  refuseNumber(to: string): void;
  /** Status callbacks made so far, in completion order (each recorded once its target answered or failed). */
  callbacks(): StatusCallbackRecord[];
  /** Resolves with the first completed status callback (already there or arriving later) that matches. */
  waitForCallback(predicate: (cb: StatusCallbackRecord) => boolean, timeoutMs?: number): Promise<StatusCallbackRecord>;
  /** Queues status callbacks instead of sending them, e.g. until a test has recorded the sid the create returned. */
  holdCallbacks(): void;
  /** Sends the queued callbacks now (no delay) and stops holding. */
  releaseCallbacks(): void;
  /** From now on, each create is accepted (stored, listed, called back) but its answer is held until `release()`. */
  hold(): void;
  /** Creates whose answer is held right now. */
  held(): number;
  /** Resolves once at least `count` answers are held. */
  waitForHeld(count: number, timeoutMs?: number): Promise<void>;
  /** Sends the held answers (to senders still connected) and stops holding. */
  release(): void;
  clear(): void;
  close(): Promise<void>;
};

export type TwilioSinkOptions = {
  port?: number;
  host?: string;
  log?: (msg: string) => void;
  /** Wait before a message's first status callback (Twilio takes a moment too, and the sender must first record the
   * sid it got back, or the callback finds no message). Default 250 ms. */
  callbackDelayMs?: number;
  /** Keep the messages and callbacks in this folder (sms.jsonl, sms-callbacks.jsonl), and load what it holds. */
  dataDir?: string;
};

export const SMS_FILE = 'sms.jsonl';
export const SMS_CALLBACKS_FILE = 'sms-callbacks.jsonl';

type CallbackJob = { sms: SentSms; url: string; authToken: string; outcome: 'delivered' | 'undelivered' };

type TwilioError = { code: number; message: string; more_info: string; status: number };

const E164 = /^\+[1-9]\d{1,14}$/;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
const MAX_BODY_BYTES = 1024 * 1024;
const CALLBACK_TIMEOUT_MS = 15_000;
const UNDELIVERED = { code: '30003', message: 'Unreachable destination handset' };

const FAULTS: Record<FaultStatus, { code: number; message: string }> = {
  500: { code: 20500, message: 'An internal server error has occurred' },
  503: { code: 20503, message: 'Service unavailable' },
  429: { code: 20429, message: 'Too Many Requests' },
};

export async function startTwilioSink(opts: TwilioSinkOptions = {}): Promise<TwilioSink> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const kept = <T>(file: string, ...dates: string[]): InboxFile<T> | undefined =>
    opts.dataDir ? { path: path.join(opts.dataDir, file), revive: withDates<T>(...dates) } : undefined;
  const inbox = new Inbox<SentSms>('SMS', kept(SMS_FILE, 'receivedAt'));
  const faults: FaultStatus[] = [];
  const callbackDelayMs = opts.callbackDelayMs ?? 250;
  const callbacks = new Inbox<StatusCallbackRecord>('status callback', kept(SMS_CALLBACKS_FILE, 'at'));
  const failing = new Set<string>();
  const refused = new Set<string>();
  /** The latest status per sid (a message without callbacks stays `queued`). */
  const statuses = new Map<string, CallbackStatus>(callbacks.list().map((c) => [c.sid, c.status]));
  let held: CallbackJob[] | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  const stopping = new AbortController();
  const holding = new Hold();

  const schedule = (job: CallbackJob, delayMs: number): void => {
    if (stopping.signal.aborted) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const run = runCallbacks(job).finally(() => running.delete(run));
      running.add(run);
    }, delayMs);
    timers.add(timer);
  };

  const runCallbacks = async (job: CallbackJob): Promise<void> => {
    // One after the other, as Twilio does: `sent` is answered before the outcome is posted.
    for (const status of ['sent', job.outcome] as const) {
      if (stopping.signal.aborted) return;
      statuses.set(job.sms.sid, status);
      await postCallback(job, status);
    }
  };

  const postCallback = async (job: CallbackJob, status: CallbackStatus): Promise<void> => {
    const { sms } = job;
    const params: Record<string, string> = {
      MessageSid: sms.sid,
      SmsSid: sms.sid,
      AccountSid: sms.accountSid,
      From: sms.from,
      To: sms.to,
      MessageStatus: status,
      SmsStatus: status,
      ApiVersion: '2010-04-01',
      ...(status === 'undelivered' ? { ErrorCode: UNDELIVERED.code, ErrorMessage: UNDELIVERED.message } : {}),
    };
    const signature = twilio.getExpectedTwilioSignature(job.authToken, job.url, params);
    const record = { sid: sms.sid, status, url: job.url, params, signature };
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          'x-twilio-signature': signature,
          'user-agent': 'TwilioProxy/1.1',
        },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(CALLBACK_TIMEOUT_MS)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      log(`twilio-sink: callback ${status} for ${sms.sid} → ${res.status}`);
      callbacks.add({ ...record, httpStatus: res.status, at: new Date() });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const error = cause?.code ?? cause?.message ?? (err as Error).message;
      log(`twilio-sink: callback ${status} for ${sms.sid} to ${job.url} failed: ${error}`);
      callbacks.add({ ...record, httpStatus: null, error, at: new Date() });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`twilio-sink: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, 500, 20500, 'An internal server error has occurred');
      else res.destroy();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;

    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return servePage(res, inbox.list(), statuses);
    if (path === '/messages.json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(inbox.list().reverse()));
      return;
    }
    if (path === '/messages' && req.method === 'DELETE') {
      inbox.clear();
      res.writeHead(204).end();
      return;
    }

    const create = MESSAGES_PATH.exec(path);
    const fetch = MESSAGE_PATH.exec(path);
    if (!create && !fetch) return sendError(res, 404, 20404, `The requested resource ${path} was not found`);
    const accountSid = decodeURIComponent((create ?? fetch)?.[1] ?? '');
    const credentials = authorized(req, accountSid);
    if (!credentials) {
      res.setHeader('www-authenticate', 'Basic realm="Twilio API"');
      return sendError(res, 401, 20003, 'Authenticate');
    }

    if (fetch) {
      if (req.method !== 'GET') return sendError(res, 405, 20004, 'Method not allowed');
      const sid = decodeURIComponent(fetch[2] ?? '');
      const sms = inbox.list().find((m) => m.sid === sid && m.accountSid === accountSid);
      if (!sms) return sendError(res, 404, 20404, `The requested resource ${path} was not found`);
      return sendJson(res, 200, resource(sms, statuses.get(sms.sid)));
    }

    if (req.method === 'GET') return sendJson(res, 200, listPage(inbox.list(), accountSid, new URL(req.url ?? '/', 'http://localhost'), statuses));
    if (req.method !== 'POST') return sendError(res, 405, 20004, 'Method not allowed');
    const form = new URLSearchParams(await readBody(req));
    const fault = faults.shift();
    if (fault !== undefined) {
      log(`twilio-sink: injected ${fault}`);
      if (fault === 429) res.setHeader('retry-after', '1');
      return sendError(res, fault, FAULTS[fault].code, FAULTS[fault].message);
    }
    const to = form.get('To')?.trim() ?? '';
    const from = form.get('From')?.trim() ?? '';
    const body = form.get('Body') ?? '';
    if (!to) return sendError(res, 400, 21604, "A 'To' phone number is required.");
    if (!E164.test(to) || refused.has(to)) return sendError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!from && !form.get('MessagingServiceSid')) return sendError(res, 400, 21603, "A 'From' phone number is required.");
    if (!body && form.getAll('MediaUrl').length === 0 && !form.get('ContentSid')) return sendError(res, 400, 21602, 'Message body is required.');

    const statusCallback = form.get('StatusCallback') || undefined;
    if (statusCallback !== undefined && !httpUrl(statusCallback)) return sendError(res, 400, 21609, `The StatusCallback URL ${statusCallback} is not a valid URL.`);
    const sms: SentSms = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      accountSid,
      to,
      from,
      body,
      ...(statusCallback ? { statusCallback } : {}),
      receivedAt: new Date(),
    };
    inbox.add(sms);
    log(`twilio-sink: ${sms.sid} to ${to}`);
    await holding.gate();
    sendJson(res, 201, resource(sms));
    if (statusCallback) {
      // Twilio signs callbacks with the account's auth token: here, the secret the create was authenticated with.
      const job: CallbackJob = {
        sms,
        url: statusCallback,
        authToken: credentials.secret,
        outcome: failing.has(to) ? 'undelivered' : 'delivered',
      };
      if (held) held.push(job);
      else schedule(job, callbackDelayMs);
    }
  };

  const port = await listen(server, opts.port ?? 0, host);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${port}`,
    messages: () => inbox.list(),
    waitFor: (predicate, timeoutMs = 10_000) => inbox.waitFor(predicate, timeoutMs, (m) => `${m.sid} to ${m.to} "${m.body.slice(0, 40)}"`),
    failNext(count, status) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext: count must be >= 0, got ${count}`);
      if (!(status in FAULTS)) throw new RangeError(`failNext: status must be 500, 429 or 503, got ${status}`);
      for (let i = 0; i < count; i++) faults.push(status);
    },
    failDelivery(to) {
      failing.add(to.trim());
    },
    refuseNumber(to) {
      refused.add(to.trim());
    },
    callbacks: () => callbacks.list(),
    waitForCallback: (predicate, timeoutMs = 10_000) => callbacks.waitFor(predicate, timeoutMs, (c) => `${c.status} for ${c.sid} → ${c.httpStatus ?? c.error}`),
    holdCallbacks() {
      held ??= [];
    },
    releaseCallbacks() {
      const jobs = held ?? [];
      held = undefined;
      for (const job of jobs) schedule(job, 0);
    },
    hold: () => holding.start(),
    held: () => holding.count,
    waitForHeld: (count, timeoutMs) => holding.waitFor(count, timeoutMs),
    release: () => holding.release(),
    clear() {
      inbox.clear();
      faults.length = 0;
      callbacks.clear();
      failing.clear();
      refused.clear();
      statuses.clear();
      if (held) held.length = 0;
    },
    close() {
      closing ??= (async () => {
        // Pending callbacks are dropped and those under way aborted, so nothing is posted after close.
        stopping.abort();
        holding.release();
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        held = undefined;
        await Promise.allSettled([...running]);
        await closeHttpServer(server);
      })();
      return closing;
    },
  };
}

/** Basic auth must be present, for this account (or an API key, SK...), with a non-empty secret. */
function authorized(req: IncomingMessage, accountSid: string): { user: string; secret: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const user = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  return secret.length > 0 && (user === accountSid || user.startsWith('SK')) ? { user, secret } : undefined;
}

function httpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The message resource as Twilio returns it (snake_case, RFC 2822 dates, counts as strings). */
function resource(sms: SentSms, status: CallbackStatus | 'queued' = 'queued'): Record<string, unknown> {
  const uri = `/2010-04-01/Accounts/${sms.accountSid}/Messages/${sms.sid}`;
  const date = rfc2822(sms.receivedAt);
  return {
    account_sid: sms.accountSid,
    api_version: '2010-04-01',
    body: sms.body,
    date_created: date,
    date_sent: date,
    date_updated: date,
    direction: 'outbound-api',
    error_code: status === 'undelivered' ? Number(UNDELIVERED.code) : null,
    error_message: status === 'undelivered' ? UNDELIVERED.message : null,
    from: sms.from,
    messaging_service_sid: null,
    num_media: '0',
    num_segments: String(segments(sms.body)),
    price: null,
    price_unit: 'USD',
    sid: sms.sid,
    status,
    subresource_uris: { media: `${uri}/Media.json` },
    to: sms.to,
    uri: `${uri}.json`,
  };
}

/** One page of the Messages list, newest first, filtered as Twilio filters (DateSent by the UTC day: `DateSent>` is on
 * or after midnight of the date, `DateSent<` on or before the date, `DateSent` on it), in Twilio's page shape. */
function listPage(all: SentSms[], accountSid: string, url: URL, statuses: Map<string, CallbackStatus>): Record<string, unknown> {
  const q = url.searchParams;
  const day = (value: string | null) => {
    if (value === null) return undefined;
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString().slice(0, 10);
  };
  const [on, after, before] = [day(q.get('DateSent')), day(q.get('DateSent>')), day(q.get('DateSent<'))];
  const to = q.get('To');
  const from = q.get('From');
  const matching = all
    .filter((m) => m.accountSid === accountSid && (to === null || m.to === to) && (from === null || m.from === from))
    .filter((m) => {
      const sent = m.receivedAt.toISOString().slice(0, 10);
      return (on === undefined || sent === on) && (after === undefined || sent >= after) && (before === undefined || sent <= before);
    })
    .reverse();
  const pageSize = Math.min(Math.max(Number(q.get('PageSize') ?? 50) || 50, 1), 1000);
  const pageNo = Math.max(Number(q.get('Page') ?? 0) || 0, 0);
  const start = pageNo * pageSize;
  const items = matching.slice(start, start + pageSize);
  const path = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
  const pageUri = (n: number) => {
    const p = new URLSearchParams(q);
    p.set('PageSize', String(pageSize));
    p.set('Page', String(n));
    return `${path}?${p.toString()}`;
  };
  return {
    messages: items.map((m) => resource(m, statuses.get(m.sid))),
    end: start + Math.max(items.length - 1, 0),
    first_page_uri: pageUri(0),
    next_page_uri: start + pageSize < matching.length ? pageUri(pageNo + 1) : null,
    page: pageNo,
    page_size: pageSize,
    previous_page_uri: pageNo > 0 ? pageUri(pageNo - 1) : null,
    start,
    uri: pageUri(pageNo),
  };
}

/** SMS segments: GSM-7 fits 160 characters (153 per part when split), anything else UCS-2 70 (67). */
function segments(body: string): number {
  const gsm = /^[\n\r\x20-\x7e£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà€]*$/.test(body);
  const length = [...body].length;
  const [single, part] = gsm ? [160, 153] : [70, 67];
  return length <= single ? 1 : Math.ceil(length / part);
}

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: number, message: string): void {
  const body: TwilioError = { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
  sendJson(res, status, body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function servePage(res: ServerResponse, messages: SentSms[], statuses: Map<string, CallbackStatus>): void {
  const rows = messages
    .reverse()
    .map(
      (m) => `<tr><td>${escapeHtml(m.receivedAt.toISOString())}</td><td>${escapeHtml(m.to)}</td>
<td>${escapeHtml(m.from)}</td><td><pre>${escapeHtml(m.body)}</pre></td><td>${escapeHtml(statuses.get(m.sid) ?? 'queued')}</td>
<td class="muted">${escapeHtml(m.sid)}</td></tr>`,
    )
    .join('');
  const body =
    `<h1>Sent SMS</h1><p class="muted">${messages.length} message(s), newest first. ` +
    `<a href="/messages.json">JSON</a></p>` +
    (messages.length === 0 ? '<p>No SMS yet.</p>' : `<table><tr><th>Received</th><th>To</th><th>From</th><th>Body</th><th>Status</th><th>SID</th></tr>${rows}</table>`);
  res.writeHead(200, PAGE_HEADERS).end(page('Sent SMS', body));
}
