// WeChat official-account template messages (模板消息): `POST /cgi-bin/message/template/send?access_token=…` with
// `{touser: openid, template_id, url?, data: {key: {value}}}`. Banks send their service notices this way (交易提醒,
// 账单通知, 还款提醒) from a service account; since 2023 WeChat no longer allows these templates for marketing, and the
// mini-program subscribe message (订阅消息) needs the customer's consent in the mini program before every single send,
// which a journey's reminder days later does not have. See README "WeChat".
//
// What a WeChat message is, from its rendered template: the subject is the template id (模板ID) registered in the
// official account, the text one `key: value` line per template field (`first`, `keyword1`… or `thing1`, `amount2`…),
// and a line `url: https://…` the page the message opens.
//
// The access token: from the stable token endpoint (`POST /cgi-bin/stable_token`), which hands every caller the same
// token while it is valid — several workers share one app id without invalidating each other's tokens, as the older
// `GET /cgi-bin/token` does — cached until five minutes before it expires, fetched again when a send is answered
// 40001 / 42001 / 40014 (invalid or expired token), and that send retried once with the new token.
import { createHash } from 'node:crypto';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import type { TemplateContent } from './templates.js';
import { scrubbedError } from './scrub.js';

export interface WeChatOptions {
  appId: string;
  appSecret: string;
  /** https://api.weixin.qq.com, or a server speaking its API (the local sink). */
  apiBaseUrl: string;
  /** How long one request may take (default 10 s). */
  timeoutMs?: number;
}

/** Answers that mean the token is no good: fetch another and try again. */
const TOKEN_ERRORS = new Set([40001, 40014, 42001]);
/** Answers that refuse the message for good: not following the account (43004), an openid not of this account
 * (40003), an unknown or invalid template (40037, 40036), template data WeChat refuses (47003), the user refused the
 * account's messages (43101). Everything else (-1 system busy, 45009 over the frequency limit, 5xx, timeouts) is
 * transient. */
const PERMANENT_ERRORS = new Set([40003, 40036, 40037, 43004, 43101, 47003]);
/** Fetched again this long before WeChat says the token expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

export class WeChatError extends Error {
  constructor(
    readonly errcode: number,
    errmsg: string,
  ) {
    super(`WeChat ${errcode}: ${errmsg}`);
    this.name = 'WeChatError';
  }
}

/** Whether WeChat's answer refuses the message for good. */
export function isPermanentWeChatError(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | null | undefined)?.errcode;
  return typeof code === 'number' && PERMANENT_ERRORS.has(code);
}

/** The template message a rendered WeChat template stands for, or a problem with it. */
export function templateMessage(content: Pick<TemplateContent, 'subject' | 'text'>): { templateId: string; url?: string; data: Record<string, { value: string }> } | string {
  const templateId = content.subject?.trim();
  if (!templateId || !/^[A-Za-z0-9_-]{1,128}$/.test(templateId)) return 'a WeChat template needs its template id (模板ID) as the subject';
  const data: Record<string, { value: string }> = {};
  let url: string | undefined;
  for (const [i, line] of content.text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const m = /^\s*([A-Za-z][A-Za-z0-9_]{0,31})\s*:\s?(.*)$/.exec(line);
    if (!m) return `line ${i + 1} of a WeChat template's text is not "key: value"`;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'url') url = value.trim();
    else if (key in data) return `a WeChat template sets "${key}" twice`;
    else data[key] = { value: value.trim() };
  }
  if (Object.keys(data).length === 0) return 'a WeChat template needs at least one "key: value" line';
  if (url !== undefined && !/^https?:\/\//.test(url)) return 'the url of a WeChat template must be http(s)';
  return { templateId, ...(url ? { url } : {}), data };
}

/** WeChat's de-duplication id of a message: a digest of the idempotency key (at most 64 characters). */
export const clientMsgId = (idempotencyKey: string) => createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32);

export function createWeChatChannel(opts: WeChatOptions): Channel & { tokenRequests(): number } {
  const base = opts.apiBaseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let token: { value: string; until: number } | undefined;
  let fetching: Promise<string> | undefined;
  let tokenRequests = 0;

  /** WeChat answers HTTP 200 with `{errcode, errmsg}` for its errors; anything but 200 is the network's or a proxy's. */
  async function call(path: string, init: RequestInit): Promise<Record<string, unknown>> {
    const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(`WeChat answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as Record<string, unknown>;
    if (typeof body.errcode === 'number' && body.errcode !== 0) throw new WeChatError(body.errcode, String(body.errmsg ?? ''));
    return body;
  }

  /** The cached token, or a new one (one request at a time, whoever asks meanwhile waits for it). */
  function accessToken(): Promise<string> {
    if (token && Date.now() < token.until) return Promise.resolve(token.value);
    fetching ??= (async () => {
      tokenRequests++;
      const body = await call('/cgi-bin/stable_token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credential', appid: opts.appId, secret: opts.appSecret, force_refresh: false }),
      });
      if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') throw new Error('WeChat answered a token request without access_token/expires_in');
      token = { value: body.access_token, until: Date.now() + body.expires_in * 1000 - TOKEN_MARGIN_MS };
      return body.access_token;
    })().finally(() => (fetching = undefined));
    return fetching;
  }

  const send = async (m: OutboundMessage, payload: Record<string, unknown>): Promise<Record<string, unknown>> =>
    call(`/cgi-bin/message/template/send?access_token=${encodeURIComponent(await accessToken())}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });

  return {
    name: 'wechat',
    tokenRequests: () => tokenRequests,
    async send(m: OutboundMessage): Promise<Delivery> {
      const message = templateMessage(m);
      if (typeof message === 'string') throw new PermanentChannelError(message, 'template');
      // client_msg_id, from the idempotency key: WeChat sends one message per openid and id (for ten minutes), so a
      // retry after an answer that was lost is not a second message.
      const payload = {
        touser: m.to,
        template_id: message.templateId,
        ...(message.url ? { url: message.url } : {}),
        data: message.data,
        client_msg_id: clientMsgId(m.idempotencyKey),
      };
      try {
        let body: Record<string, unknown>;
        try {
          body = await send(m, payload);
        } catch (err) {
          if (!(err instanceof WeChatError && TOKEN_ERRORS.has(err.errcode))) throw err;
          token = undefined; // refused: another one, and the send once more
          body = await send(m, payload);
        }
        return { providerId: String(body.msgid ?? m.idempotencyKey) };
      } catch (err) {
        // WeChat's messages may quote the openid: scrubbed (channels/scrub.ts).
        throw scrubbedError(isPermanentWeChatError(err) ? new PermanentChannelError((err as WeChatError).message, (err as WeChatError).errcode) : err, [m.to]);
      }
    },
  };
}
