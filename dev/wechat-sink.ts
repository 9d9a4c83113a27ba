// A local HTTP server that speaks the part of WeChat's official-account API the service uses: the access token
// (`GET /cgi-bin/token`, `POST /cgi-bin/stable_token`) and the template message (`POST /cgi-bin/message/template/send`).
// It checks what WeChat checks first (the app id and secret, the access token, an openid, a template id, data), answers
// with WeChat's shapes (HTTP 200 and `{errcode, errmsg}`), records the messages it accepts and lists them on a page.
// Tests can tell it to fail (`failNext` with WeChat's errcodes: -1 system busy, 45009 frequency limit), to expire the
// tokens it gave (`expireTokens`: the next send is answered 40001), to refuse an openid (43004, not following the
// account) or a template id (40037). With `dataDir` it keeps the messages in `<dataDir>/wechat.jsonl` and shows what
// earlier runs received.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeHttpServer, escapeHtml, Inbox, listen, page, PAGE_HEADERS, urlHost, withDates } from './capture.js';

export type WeChatTemplateMessage = {
  msgid: number;
  touser: string;
  templateId: string;
  url?: string;
  data: Record<string, { value: string }>;
  clientMsgId?: string;
  receivedAt: Date;
};

export type WeChatSink = {
  /** Base URL (http://HOST:PORT): what WECHAT_API_BASE_URL should be. */
  url: string;
  messages(): WeChatTemplateMessage[];
  /** Resolves with the first accepted message (already there or arriving later) that matches. */
  waitFor(predicate: (m: WeChatTemplateMessage) => boolean, timeoutMs?: number): Promise<WeChatTemplateMessage>;
  /** The next `count` sends are answered with this errcode (-1, 45009…) and not recorded. */
  failNext(count: number, errcode: number): void;
  /** Every token given so far stops working: a send with one is answered 40001. */
  expireTokens(): void;
  /** Sends to this openid are answered 43004 (the user does not follow the account). */
  refuseOpenid(openid: string): void;
  /** Sends with this template id are answered 40037 (invalid template id). */
  refuseTemplate(templateId: string): void;
  /** Token requests answered so far (both endpoints). */
  tokenRequests(): number;
  clear(): void;
  close(): Promise<void>;
};

export type WeChatSinkOptions = {
  port?: number;
  host?: string;
  /** The app id and secret it accepts (default: the config's built-in development values). */
  appId?: string;
  appSecret?: string;
  /** The lifetime of its tokens, in seconds (WeChat's: 7200). */
  tokenSeconds?: number;
  log?: (msg: string) => void;
  /** Keep the messages in this folder (wechat.jsonl), and load what it holds: a restart still shows earlier messages. */
  dataDir?: string;
};

export const WECHAT_MESSAGES_FILE = 'wechat.jsonl';
export const DEV_WECHAT_APP_ID = 'wx00000000000000dev';
export const DEV_WECHAT_APP_SECRET = 'local-wechat-sink-secret';

/** An openid: 28 characters of base64url in practice; anything of that alphabet from 16 to 64 passes here. */
const OPENID = /^[A-Za-z0-9_-]{16,64}$/;
const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40037: 'invalid template_id',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  42001: 'access_token expired',
  43004: 'require subscribe',
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
};
const MAX_BODY_BYTES = 64 * 1024;

export async function startWeChatSink(opts: WeChatSinkOptions = {}): Promise<WeChatSink> {
  const host = opts.host ?? '127.0.0.1';
  const appId = opts.appId ?? DEV_WECHAT_APP_ID;
  const appSecret = opts.appSecret ?? DEV_WECHAT_APP_SECRET;
  const tokenSeconds = opts.tokenSeconds ?? 7200;
  const log = opts.log ?? (() => {});
  const inbox = new Inbox<WeChatTemplateMessage>('WeChat message', opts.dataDir ? { path: join(opts.dataDir, WECHAT_MESSAGES_FILE), revive: withDates('receivedAt') } : undefined);
  const faults: number[] = [];
  const refusedOpenids = new Set<string>();
  const refusedTemplates = new Set<string>();
  /** Tokens given, with when they expire. The stable token is the newest one while it is valid. */
  const tokens = new Map<string, number>();
  let stable: string | undefined;
  let tokenRequests = 0;
  // After the messages an earlier run kept: a msgid names one message.
  let nextMsgid = Math.max(1_000_000, ...inbox.list().map((m) => m.msgid + 1));

  const newToken = (): { access_token: string; expires_in: number } => {
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, Date.now() + tokenSeconds * 1000);
    stable = token;
    return { access_token: token, expires_in: tokenSeconds };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return servePage(res, inbox.list());
    if (path === '/messages.json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(inbox.list().reverse()));
      return;
    }

    if (path === '/cgi-bin/token' && req.method === 'GET') {
      const q = url.searchParams;
      const refused = credentialsRefused(q.get('grant_type'), q.get('appid'), q.get('secret'));
      if (refused) return answer(res, refused);
      tokenRequests++;
      return sendJson(res, newToken());
    }
    if (path === '/cgi-bin/stable_token' && req.method === 'POST') {
      const body = parseJson(await readBody(req));
      const refused = credentialsRefused(body?.grant_type, body?.appid, body?.secret);
      if (refused) return answer(res, refused);
      tokenRequests++;
      const current = stable !== undefined ? tokens.get(stable) : undefined;
      if (body?.force_refresh !== true && stable !== undefined && current !== undefined && current > Date.now())
        return sendJson(res, { access_token: stable, expires_in: Math.floor((current - Date.now()) / 1000) });
      return sendJson(res, newToken());
    }
    if (path === '/cgi-bin/message/template/send' && req.method === 'POST') {
      const token = url.searchParams.get('access_token');
      if (!token) return answer(res, 41001);
      const expires = tokens.get(token);
      if (expires === undefined) return answer(res, 40001);
      if (expires <= Date.now()) return answer(res, 42001);
      const body = parseJson(await readBody(req));
      const fault = faults.shift();
      if (fault !== undefined) {
        log(`wechat-sink: injected ${fault}`);
        return answer(res, fault);
      }
      const touser = typeof body?.touser === 'string' ? body.touser : '';
      const templateId = typeof body?.template_id === 'string' ? body.template_id : '';
      if (!OPENID.test(touser)) return answer(res, 40003);
      if (!templateId || refusedTemplates.has(templateId)) return answer(res, 40037);
      if (refusedOpenids.has(touser)) return answer(res, 43004);
      const data = dataOf(body?.data);
      if (!data) return answer(res, 47001);
      const clientMsgId = typeof body?.client_msg_id === 'string' ? body.client_msg_id : undefined;
      // The same openid and client_msg_id again: WeChat sends one message (a repeat answers ok, and nothing more).
      const earlier = clientMsgId !== undefined ? inbox.list().find((m) => m.touser === touser && m.clientMsgId === clientMsgId) : undefined;
      if (earlier) return sendJson(res, { errcode: 0, errmsg: 'ok', msgid: earlier.msgid });
      const message: WeChatTemplateMessage = {
        msgid: nextMsgid++,
        touser,
        templateId,
        ...(typeof body?.url === 'string' ? { url: body.url } : {}),
        data,
        ...(clientMsgId !== undefined ? { clientMsgId } : {}),
        receivedAt: new Date(),
      };
      inbox.add(message);
      log(`wechat-sink: ${message.msgid} (${templateId})`);
      return sendJson(res, { errcode: 0, errmsg: 'ok', msgid: message.msgid });
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode: 404, errmsg: `no such api ${path}` }));
  };

  const credentialsRefused = (grantType: unknown, id: unknown, secret: unknown): number | undefined => {
    if (grantType !== 'client_credential') return 40002;
    if (id !== appId) return 40013;
    if (secret !== appSecret) return 40125;
    return undefined;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`wechat-sink: ${(err as Error).message}`);
      if (!res.headersSent) answer(res, -1);
      else res.destroy();
    });
  });
  const port = await listen(server, opts.port ?? 0, host);
  return {
    url: `http://${urlHost(host)}:${port}`,
    messages: () => inbox.list(),
    waitFor: (predicate, timeoutMs = 10_000) => inbox.waitFor(predicate, timeoutMs, (m) => `${m.msgid} (${m.templateId})`),
    failNext(count, errcode) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext: count must be >= 0, got ${count}`);
      for (let i = 0; i < count; i++) faults.push(errcode);
    },
    expireTokens() {
      tokens.clear();
      stable = undefined;
    },
    refuseOpenid: (openid) => void refusedOpenids.add(openid),
    refuseTemplate: (templateId) => void refusedTemplates.add(templateId),
    tokenRequests: () => tokenRequests,
    clear() {
      inbox.clear();
      faults.length = 0;
      refusedOpenids.clear();
      refusedTemplates.clear();
    },
    close: () => closeHttpServer(server),
  };
}

/** `{key: {value: string}}`, at least one key. */
function dataOf(value: unknown): Record<string, { value: string }> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return undefined;
  const out: Record<string, { value: string }> = {};
  for (const [k, v] of entries) {
    const inner = (v as { value?: unknown } | null)?.value;
    if (typeof inner !== 'string') return undefined;
    out[k] = { value: inner };
  }
  return out;
}

function answer(res: ServerResponse, errcode: number): void {
  sendJson(res, { errcode, errmsg: ERRMSG[errcode] ?? 'error' });
}

/** WeChat answers its errors with HTTP 200, as here. */
function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function servePage(res: ServerResponse, messages: WeChatTemplateMessage[]): void {
  const rows = messages
    .slice()
    .reverse()
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.receivedAt.toISOString())}</td><td>${escapeHtml(m.msgid)}</td><td>${escapeHtml(m.touser)}</td><td>${escapeHtml(m.templateId)}</td><td><pre>${escapeHtml(
          Object.entries(m.data)
            .map(([k, v]) => `${k}: ${v.value}`)
            .join('\n'),
        )}</pre>${m.url ? escapeHtml(m.url) : ''}</td></tr>`,
    )
    .join('');
  res
    .writeHead(200, PAGE_HEADERS)
    .end(page('WeChat', `<h1>WeChat template messages</h1><table><tr><th>received</th><th>msgid</th><th>openid</th><th>template</th><th>data</th></tr>${rows}</table>`));
}
