// The customer's side of a marketing email's links, open without a key (the link's signature is its check, as
// Twilio's signature is its callback's): `POST /u/:token`, RFC 8058's one-click unsubscribe (a mail client posts
// `List-Unsubscribe=One-Click`; no cookie, no page), and the preference page `GET|POST /p/:token` — server-rendered
// HTML in the customer's language (zh-CN or English), no script, no external asset, a strict CSP, no referrer (the
// token is in the URL). A forged or altered link answers 403, an expired one 410, and neither changes anything. Each
// request with a genuine link is audited under the link's principal `link:<id>` (the id of the message it came in),
// never a name or an address. `GET /u/:token` (a client or a person following the header by hand) goes to the page:
// a GET must never unsubscribe, as link scanners fetch every URL of an email.
import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../config/logger.js';
import { CHANNEL_NAMES, perChannel } from '../engine/channels.js';
import { localDate } from '../channels/format.js';
import type { AuditLog } from '../service/audit.js';
import { outcomeOf } from '../service/audit.js';
import { Conflict, NotFound } from '../service/errors.js';
import { LinkRefused, type PreferenceLink, type PreferenceLinks } from '../service/preference-links.js';
import { PreferenceChoice, type PreferenceService, type PreferenceView } from '../service/preferences.js';
import { requestIdOf } from './audit.js';
import { doc, type RouteDoc } from './openapi.js';

// The customer's links in the OpenAPI document: no bearer token, the signed token in the path is the credential.
const TokenParam = z.object({ token: z.string().meta({ description: 'The signed, expiring link token from the email' }) });
const LINK: Pick<RouteDoc, 'tag' | 'params' | 'errors'> = { tag: 'preferences', params: TokenParam, errors: [403, 404, 409, 410] };
const DOCS = {
  unsubscribe: {
    ...LINK,
    summary: "RFC 8058 one-click unsubscribe (the email's List-Unsubscribe-Post): withdraws the link's channel for marketing",
    body: { form: z.object({ 'List-Unsubscribe': z.literal('One-Click').optional() }) },
    responses: { 200: 'JSON {unsubscribed, channel}' },
  },
  unsubscribeGet: {
    ...LINK,
    summary: 'A link scanner or a click on the one-click URL: 303 to the preference page; changes nothing',
    responses: { 303: { type: 'text/html', description: 'To the preference page' } },
  },
  page: { ...LINK, summary: 'The preference page (HTML, zh-CN/en)', responses: { 200: { type: 'text/html', description: 'The page' } } },
  choose: {
    ...LINK,
    summary: 'A choice on the preference page: stop a channel, stop this journey, or fewer messages',
    body: { form: z.object({ choice: z.enum(['stop_channel', 'stop_journey', 'fewer_messages']), channel: z.string().optional() }) },
    responses: { 303: { type: 'text/html', description: 'Back to the page, saying what was done' } },
  },
} satisfies Record<string, RouteDoc>;

export interface PreferencesRouterDeps {
  links: PreferenceLinks;
  preferences: PreferenceService;
  audit: AuditLog;
  logger: Logger;
}

type Lang = 'en' | 'zh-CN';
const langOf = (locale: string | undefined): Lang => (locale?.split('-')[0] === 'zh' ? 'zh-CN' : 'en');

const TEXT = {
  en: {
    title: 'Your messages',
    intro: (name: string, until: string) => `You came here from an email about “${name}”. This link works until ${until}.`,
    channels: 'Offers and news, by channel',
    channel: perChannel((_c, facts) => facts.label.en),
    receiving: 'you receive them',
    stopped: 'stopped',
    stop: 'Stop',
    journey: 'This journey',
    stopJourney: 'Stop this journey',
    stopJourneyHelp: (name: string) => `No more messages from “${name}”. Nothing else changes.`,
    fewer: 'Fewer messages',
    fewerHelp: 'From now on only messages about your accounts and contracts: this journey and our other offers stop.',
    ended: 'This journey has ended: nothing more comes from it.',
    service: 'Messages about your accounts and contracts — approvals, statements, repayment reminders — still reach you.',
    done: {
      stop_channel: (channel: string) => `Done: no more offers by ${channel.toLowerCase()}.`,
      stop_journey: () => 'Done: this journey has stopped.',
      fewer_messages: () => 'Done: from now on we write to you only about your accounts and contracts.',
    },
    unsubscribed: 'You are unsubscribed from these emails.',
    refused: {
      invalid: ['This link is not valid.', 'Nothing was changed.'],
      expired: ['This link has expired.', 'Nothing was changed. A newer email from us carries a new link.'],
      not_found: ['This link no longer works.', 'Nothing was changed.'],
      journey_ended: ['This journey has already ended.', 'Nothing more comes from it.'],
      bad_request: ['That choice is not one this page offers.', 'Nothing was changed.'],
    },
  },
  'zh-CN': {
    title: '消息偏好',
    intro: (name: string, until: string) => `您从一封关于“${name}”的邮件来到此页。此链接有效期至 ${until}。`,
    channels: '产品推介与资讯（按渠道）',
    channel: perChannel((_c, facts) => facts.label['zh-CN']),
    receiving: '接收中',
    stopped: '已停止',
    stop: '停止',
    journey: '此旅程',
    stopJourney: '停止此旅程',
    stopJourneyHelp: (name: string) => `不再接收“${name}”的消息，其他不受影响。`,
    fewer: '减少消息',
    fewerHelp: '今后只接收与您账户和合约相关的消息：此旅程及其他推介均停止。',
    ended: '此旅程已结束，不会再有相关消息。',
    service: '与您账户和合约相关的消息（审批结果、对账单、还款提醒）仍会照常发送。',
    done: {
      stop_channel: (channel: string) => `已完成：不再通过${channel}向您发送推介。`,
      stop_journey: () => '已完成：此旅程已停止。',
      fewer_messages: () => '已完成：今后我们只就您的账户和合约与您联系。',
    },
    unsubscribed: '您已退订此类邮件。',
    refused: {
      invalid: ['此链接无效。', '未做任何更改。'],
      expired: ['此链接已过期。', '未做任何更改。我们较新的邮件中附有新链接。'],
      not_found: ['此链接已失效。', '未做任何更改。'],
      journey_ended: ['此旅程已经结束。', '不会再有相关消息。'],
      bad_request: ['此页面不提供该选项。', '未做任何更改。'],
    },
  },
} as const;

const STYLE =
  'body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}' +
  'h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}ul{list-style:none;padding:0}li{display:flex;justify-content:space-between;align-items:center;padding:.4rem 0;border-bottom:1px solid #eee}' +
  'form{display:inline}button{font:inherit;padding:.3rem .9rem;border:1px solid #888;border-radius:4px;background:#fff;cursor:pointer}' +
  '.note{color:#555;font-size:.9rem}.done{background:#e8f5e9;border:1px solid #a5d6a7;padding:.6rem;border-radius:4px}.off{color:#999}';
/** The page's only style, allowed by its hash: the CSP then forbids every other style, every script and every fetch. */
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function sendPage(res: Response, status: number, lang: Lang, body: string): void {
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
    })
    .send(
      `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">` +
        `<title>${esc(TEXT[lang].title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`,
    );
}

/** A form posting one choice back to this page (`action=""`: the page's own URL, wherever the service is mounted). */
const button = (label: string, fields: Record<string, string>) =>
  `<form method="post" action="">${Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('')}<button type="submit">${esc(label)}</button></form>`;

const Done = z.union([
  z.object({ done: z.literal('stop_channel'), channel: z.enum(CHANNEL_NAMES) }),
  z.object({ done: z.enum(['stop_journey', 'fewer_messages', 'unsubscribed']) }),
]);

function preferencePage(view: PreferenceView, done: z.infer<typeof Done> | undefined): { lang: Lang; html: string } {
  const lang = langOf(view.locale);
  const t = TEXT[lang];
  const name = view.journey.name || view.journey.journeyKey;
  const banner =
    done === undefined
      ? ''
      : `<p class="done" role="status">${esc(
          done.done === 'stop_channel' ? t.done.stop_channel(t.channel[done.channel]) : done.done === 'unsubscribed' ? t.unsubscribed : t.done[done.done](),
        )}</p>`;
  const channels = CHANNEL_NAMES.map(
    (c) =>
      `<li><span>${esc(t.channel[c])} — ${view.marketing[c] ? esc(t.receiving) : `<span class="off">${esc(t.stopped)}</span>`}</span>${
        view.marketing[c] ? button(t.stop, { choice: 'stop_channel', channel: c }) : ''
      }</li>`,
  ).join('');
  const journey = view.journey.running
    ? `<p>${button(t.stopJourney, { choice: 'stop_journey' })}</p><p class="note">${esc(t.stopJourneyHelp(name))}</p>` +
      `<p>${button(t.fewer, { choice: 'fewer_messages' })}</p><p class="note">${esc(t.fewerHelp)}</p>`
    : `<p class="note">${esc(t.ended)}</p>`;
  return {
    lang,
    html:
      `<h1>${esc(t.title)}</h1>${banner}<p>${esc(t.intro(name, localDate(view.expiresAt, view.timeZone, lang)))}</p>` +
      `<h2>${esc(t.channels)}</h2><ul>${channels}</ul><h2>${esc(t.journey)}</h2>${journey}<p class="note">${esc(t.service)}</p>`,
  };
}

function refusedPage(res: Response, status: number, lang: Lang, kind: keyof (typeof TEXT)['en']['refused']): void {
  const [title, detail] = TEXT[lang].refused[kind];
  sendPage(res, status, lang, `<h1>${esc(title)}</h1><p>${esc(detail)}</p>`);
}

/** The language of a page shown before any customer is known: the browser's. */
const browserLang = (req: Request): Lang => (/^\s*zh\b/i.test(req.get('accept-language') ?? '') ? 'zh-CN' : 'en');

export function preferencesRouter({ links, preferences, audit, logger }: PreferencesRouterDeps): express.Router {
  const router = express.Router();
  // Forms and RFC 8058's body are tiny: anything larger is refused before it is read.
  const form = express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 10 });

  /** The link a request carries, or the refusal answered (as a page or, for a mail client, JSON). */
  const verified = async (req: Request, res: Response, as: 'page' | 'json'): Promise<PreferenceLink | undefined> => {
    try {
      return await links.verify(String(req.params.token));
    } catch (err) {
      if (!(err instanceof LinkRefused)) throw err;
      const status = err.reason === 'expired' ? 410 : 403;
      if (as === 'json') res.status(status).json({ error: { code: err.reason === 'expired' ? 'link_expired' : 'invalid_link', message: err.message } });
      else refusedPage(res, status, browserLang(req), err.reason);
      return undefined;
    }
  };

  /** Records the request once answered, under the link's principal (ids only). */
  const trail = (res: Response, link: PreferenceLink, action: string, detail: () => Record<string, unknown>) => {
    res.on('finish', () => {
      const requestId = requestIdOf(res);
      audit
        .record({
          principalId: `link:${link.linkId}`,
          role: 'customer',
          action,
          targetType: 'customer',
          targetId: link.customerId,
          outcome: outcomeOf(res.statusCode),
          status: res.statusCode,
          ...(requestId !== undefined ? { requestId } : {}),
          detail: { workflowId: link.workflowId, ...detail() },
        })
        .catch((err: unknown) => logger.error({ action, requestId, error: (err as { name?: string })?.name }, 'audit entry not written'));
    });
  };

  /** A domain refusal (an erased customer, a journey that has ended) as a page; anything else to the error handler. */
  const refuse = (res: Response, next: NextFunction, lang: Lang, err: unknown) => {
    if (err instanceof NotFound) return refusedPage(res, 404, lang, 'not_found');
    if (err instanceof Conflict && err.code === 'journey_ended') return refusedPage(res, 409, lang, 'journey_ended');
    next(err);
  };

  router.post('/u/:token', doc(DOCS.unsubscribe), form, async (req, res, next) => {
    try {
      const link = await verified(req, res, 'json');
      if (!link) return;
      const done: Record<string, unknown> = { channel: link.channel };
      trail(res, link, 'preferences.unsubscribe', () => done);
      const r = await preferences.unsubscribe(link, { principalId: `link:${link.linkId}`, ...(requestIdOf(res) ? { requestId: requestIdOf(res)! } : {}) });
      done.eventId = r.eventId;
      res.status(200).json({ unsubscribed: true, channel: link.channel });
    } catch (err) {
      if (err instanceof NotFound) return void res.status(404).json({ error: { code: 'not_found', message: 'this link no longer works' } });
      next(err);
    }
  });
  router.get('/u/:token', doc(DOCS.unsubscribeGet), (req, res) => {
    res.redirect(303, `../p/${encodeURIComponent(String(req.params.token))}`);
  });

  router.get('/p/:token', doc(DOCS.page), async (req, res, next) => {
    let lang = browserLang(req);
    try {
      const link = await verified(req, res, 'page');
      if (!link) return;
      trail(res, link, 'preferences.read', () => ({}));
      const view = await preferences.view(link);
      lang = langOf(view.locale);
      const done = Done.safeParse(req.query);
      const page = preferencePage(view, done.success ? done.data : undefined);
      sendPage(res, 200, page.lang, page.html);
    } catch (err) {
      refuse(res, next, lang, err);
    }
  });

  router.post('/p/:token', doc(DOCS.choose), form, async (req, res, next) => {
    let lang = browserLang(req);
    try {
      const link = await verified(req, res, 'page');
      if (!link) return;
      const noted: Record<string, unknown> = {};
      trail(res, link, 'preferences.choose', () => noted);
      const choice = PreferenceChoice.safeParse(req.body ?? {});
      if (!choice.success) return refusedPage(res, 400, lang, 'bad_request');
      Object.assign(noted, choice.data);
      const view = await preferences.view(link);
      lang = langOf(view.locale);
      const r = await preferences.choose(link, choice.data, { principalId: `link:${link.linkId}`, ...(requestIdOf(res) ? { requestId: requestIdOf(res)! } : {}) });
      Object.assign(noted, r);
      // Post, then redirect, then get: a reload does not post again, and the page shows what is true now.
      const query = new URLSearchParams({ done: choice.data.choice, ...(choice.data.choice === 'stop_channel' ? { channel: choice.data.channel } : {}) });
      res.redirect(303, `?${query.toString()}`);
    } catch (err) {
      refuse(res, next, lang, err);
    }
  });
  return router;
}
