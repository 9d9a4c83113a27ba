// The customer's links out of a marketing email: a one-click unsubscribe (RFC 8058: `List-Unsubscribe` +
// `List-Unsubscribe-Post`) and a small preference page. A link is the customer's only credential — no sign-in — so it
// is a token signed with PREFERENCES_SECRET (HMAC-SHA256, a compact JWS made and checked by `jose`) that names the
// customer, the journey that sent the email, the channel, the message it came in (its id is the link's id, which the
// audit log names instead of a person) and when it stops working. Nothing else: no name, no address.
//
// Lifetime: 30 days from the send by default (PREFERENCES_LINK_DAYS). Long enough for the emails people read late or
// keep, as mail providers expect of a List-Unsubscribe URL; short enough that a forwarded or leaked email does not
// steer the customer's consent for ever. An expired link answers 410 and changes nothing; a newer email carries a
// fresh one.
import { errors, jwtVerify, SignJWT } from 'jose';
import { type ChannelName, isChannelName } from '../engine/channels.js';

const AUDIENCE = 'journeys:preferences';

/** What a verified link says. */
export interface PreferenceLink {
  /** The message the link came in: the link's id. */
  linkId: string;
  customerId: string;
  /** The journey that sent the email. */
  workflowId: string;
  channel: ChannelName;
  expiresAt: Date;
}

/** A link that is not one of ours (forged, altered, malformed) or no longer works. */
export class LinkRefused extends Error {
  constructor(readonly reason: 'invalid' | 'expired') {
    super(reason === 'expired' ? 'this link has expired' : 'this link is not valid');
    this.name = 'LinkRefused';
  }
}

export interface PreferenceLinkOptions {
  secret: string;
  /** Days a link works after it is made. */
  linkDays: number;
  /** The API's public address the links point at (PUBLIC_BASE_URL); a function when it is known only once listening. */
  baseUrl?: string | (() => string | undefined);
}

export class PreferenceLinks {
  private readonly key: Uint8Array;

  constructor(private readonly opts: PreferenceLinkOptions) {
    this.key = new TextEncoder().encode(opts.secret);
  }

  get linkDays(): number {
    return this.opts.linkDays;
  }

  /** A signed token for the link of one message, working `linkDays` from `now`. */
  async sign(link: Omit<PreferenceLink, 'expiresAt'>, now = new Date()): Promise<string> {
    const iat = Math.floor(now.getTime() / 1000);
    return new SignJWT({ wid: link.workflowId, ch: link.channel })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(link.customerId)
      .setJti(link.linkId)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.opts.linkDays * 86_400)
      .sign(this.key);
  }

  /** The link a token stands for; `LinkRefused` when it is not ours or has expired (signature first: a forged token
   * is refused as invalid whatever its expiry says). */
  async verify(token: string, now = new Date()): Promise<PreferenceLink> {
    if (token.length > 2048) throw new LinkRefused('invalid');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], audience: AUDIENCE, currentDate: now, requiredClaims: ['sub', 'jti', 'exp'] }));
    } catch (err) {
      throw new LinkRefused(err instanceof errors.JWTExpired ? 'expired' : 'invalid');
    }
    const { sub, jti, exp, wid, ch } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof wid !== 'string' || !isChannelName(ch)) throw new LinkRefused('invalid');
    return { linkId: jti, customerId: sub, workflowId: wid, channel: ch, expiresAt: new Date(exp * 1000) };
  }

  /** The base URL links point at, or undefined when none is known (then no links can be made). */
  private base(): string | undefined {
    const b = typeof this.opts.baseUrl === 'function' ? this.opts.baseUrl() : this.opts.baseUrl;
    return b ? b.replace(/\/$/, '') : undefined;
  }

  /** The one-click unsubscribe URL (POST) and the preference page (GET) of one message; undefined without a base URL. */
  async urls(link: Omit<PreferenceLink, 'expiresAt'>, now = new Date()): Promise<{ unsubscribe: string; page: string } | undefined> {
    const base = this.base();
    if (!base) return undefined;
    const token = await this.sign(link, now);
    return { unsubscribe: `${base}/u/${token}`, page: `${base}/p/${token}` };
  }
}

/** The headers of RFC 2369 and RFC 8058 that let a mail client unsubscribe with one click (a POST of
 * `List-Unsubscribe=One-Click` to the URL, no cookies, no page). */
export function unsubscribeHeaders(urls: { unsubscribe: string }): Record<string, string> {
  return { 'List-Unsubscribe': `<${urls.unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

const FOOTER: Record<'en' | 'zh-CN', { text: (url: string) => string; html: string }> = {
  en: {
    text: (url) => `\n\n--\nYou receive this email as a customer of ours. Fewer emails, none of this journey, or none by email at all: ${url}`,
    html: 'You receive this email as a customer of ours. <a href="{url}">Choose fewer emails, stop this journey, or unsubscribe</a>.',
  },
  'zh-CN': {
    text: (url) => `\n\n--\n您收到此邮件是因为您是我行客户。减少消息、停止此类旅程或退订邮件：${url}`,
    html: '您收到此邮件是因为您是我行客户。<a href="{url}">减少消息、停止此类旅程或退订邮件</a>。',
  },
};

/** The line a marketing email ends with: the preference page, in the customer's language (Chinese or English). */
export function preferenceFooter(locale: string, pageUrl: string): { text: string; html: string } {
  const f = locale.split('-')[0] === 'zh' ? FOOTER['zh-CN'] : FOOTER.en;
  const href = pageUrl.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return { text: f.text(pageUrl), html: `<hr><p style="font-size:12px;color:#666">${f.html.replace('{url}', href)}</p>` };
}
