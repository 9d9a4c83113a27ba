// Templates as the service keeps them: `TemplateCatalog` stores them in Postgres as versions per key, channel and locale
// (seeded from templates/*.json), draft → published, and hands a send the newest published ones (the rendering itself
// is channels/templates.ts). What the API does with them: an upload is rendered against sample data before it is
// stored, so a template that breaks a budget or its channel's output cap is refused (`Invalid`) instead of failing every
// send later; a preview renders a stored or an ad-hoc template for designers and tests; a draft goes live when another
// principal publishes it.
import { z } from 'zod';
import { CHANNEL_NAMES, CHANNELS, type ChannelName as Channel } from '../engine/channels.js';
import { CHANNEL_ADAPTERS, type ChannelAdapter } from '../channels/registry.js';
import {
  checkContent,
  Content,
  contentVariables,
  DEFAULT_LOCALE,
  renderContent,
  TemplateError,
  TemplateLimitError,
  type Entries,
  type TemplateContent,
  TemplateStore,
} from '../channels/templates.js';
import diff, { type Difference } from 'microdiff';
import type { Db } from '../db/client.js';
import { insertNextVersion } from '../db/unique.js';
import { conflict, Invalid, NotFound, notFound, Unprocessable } from './errors.js';
import { checkFourEyes, SEED_PRINCIPAL } from './definitions.js';
import { isTimeZone } from '../engine/tz.js';

const locale = z.string().regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'a locale like en or zh-CN');
const variables = z.record(z.string().max(64), z.unknown());

export const PreviewBody = z
  .object({
    key: z
      .string()
      .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'a template key like loan-approved')
      .optional(),
    /** With `key`: this stored version (a draft under review, say) instead of the live one. */
    version: z.number().int().min(1).optional(),
    subject: Content.shape.subject,
    text: Content.shape.text.optional(),
    html: Content.shape.html,
    channel: z.enum(CHANNEL_NAMES),
    locale: locale.default(DEFAULT_LOCALE),
    customer: z
      .object({
        id: z.string().max(128),
        name: z.string().max(200),
        locale,
        /** The zone the date filters show times in (a send gives the customer's, or the policy's default). */
        timeZone: z.string().refine(isTimeZone, 'an IANA time zone like Asia/Shanghai'),
        segment: z.string().max(64).nullable(),
        attributes: variables,
      })
      .partial()
      .strict()
      .optional(),
    event: variables.optional(),
    params: variables.optional(),
  })
  .strict()
  .refine((b) => (b.key === undefined) !== (b.text === undefined), { message: 'give either "key" or "text"' })
  .refine((b) => b.key === undefined || (b.subject === undefined && b.html === undefined), { message: '"subject" and "html" go with "text", not "key"' })
  .refine((b) => b.version === undefined || b.key !== undefined, { message: '"version" goes with "key"', path: ['version'] });
export type PreviewBody = z.infer<typeof PreviewBody>;

/** The customer a template is tried with when no real one is given (the shape a send renders with). */
export function sampleCustomer(loc = DEFAULT_LOCALE) {
  return { id: 'sample-customer', name: 'Alex Sample', locale: loc, timeZone: 'Asia/Shanghai', segment: 'retail', attributes: {} as Record<string, unknown> };
}

/** Sample data for every `event.*` and `params.*` path the content reads, so an upload check walks the template's
 * branches and loops with values in them. */
function sampleVars(content: TemplateContent, loc: string): Record<string, unknown> {
  const vars: Record<string, Record<string, unknown>> = { customer: sampleCustomer(loc), event: {}, params: {} };
  for (const [root, ...rest] of contentVariables(content)) {
    if ((root !== 'event' && root !== 'params') || rest.length === 0 || rest.some((s) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(s))) continue;
    let node = vars[root]!;
    rest.forEach((seg, i) => {
      if (i === rest.length - 1) {
        if (!Object.hasOwn(node, seg)) node[seg] = 'Sample';
      } else {
        if (!Object.hasOwn(node, seg) || typeof node[seg] !== 'object') node[seg] = {};
        node = node[seg] as Record<string, unknown>;
      }
    });
  }
  return vars;
}

/** Refuses (400) content that does not parse, or that breaks a budget or its channel's cap on sample data. */
export function checkUpload(channel: Channel, loc: string, content: TemplateContent): void {
  if (CHANNELS[channel].subjectRequired && content.subject === undefined)
    throw new Invalid('invalid_request', `${/^[aeiou]/.test(channel) ? 'an' : 'a'} ${channel} template needs a subject`);
  const problem = checkContent(content);
  if (problem) throw new Invalid('invalid_template', `the template does not parse: ${problem}`);
  let rendered: TemplateContent;
  try {
    rendered = renderContent(content, channel, sampleVars(content, loc));
  } catch (err) {
    if (err instanceof TemplateLimitError) throw new Invalid('template_limit', err.message);
    if (err instanceof TemplateError) throw new Invalid('invalid_template', `the template does not render on sample data: ${err.message}`);
    throw err;
  }
  // What the channel itself asks of a message (channels/registry.ts), beyond the caps.
  const refused = (CHANNEL_ADAPTERS[channel] as ChannelAdapter).message.check?.(rendered);
  if (refused) throw new Invalid('invalid_template', refused);
}

/** The rendered subject, text and html of a stored template (the live version, or the version asked for) or of an
 * ad-hoc one. */
export async function previewTemplate(catalog: TemplateCatalog, body: PreviewBody): Promise<TemplateContent> {
  const customer = { ...sampleCustomer(body.customer?.locale ?? body.locale), ...body.customer };
  const vars = { customer, event: body.event ?? {}, params: body.params ?? {} };
  try {
    if (body.key !== undefined && body.version !== undefined) {
      const row = await catalog.get(body.key, body.channel, body.locale, body.version);
      if (!row) throw new NotFound('not_found', `no ${body.channel} template "${body.key}" version ${body.version} in ${body.locale}`);
      const content: TemplateContent = { ...(row.subject !== null ? { subject: row.subject } : {}), text: row.text, ...(row.html !== null ? { html: row.html } : {}) };
      return renderContent(content, body.channel, vars, undefined, body.locale);
    }
    if (body.key !== undefined) {
      const store = await catalog.snapshot();
      if (!store.has(body.key, body.channel)) throw new NotFound('not_found', `no ${body.channel} template "${body.key}"`);
      return store.render(body.key, body.channel, body.locale, vars);
    }
    const content: TemplateContent = {
      ...(body.subject !== undefined ? { subject: body.subject } : {}),
      text: body.text!,
      ...(body.html !== undefined ? { html: body.html } : {}),
    };
    const problem = checkContent(content);
    if (problem) throw new Invalid('invalid_template', `the template does not parse: ${problem}`);
    return renderContent(content, body.channel, vars, undefined, body.locale);
  } catch (err) {
    if (err instanceof TemplateLimitError) throw new Unprocessable('template_limit', err.message);
    if (err instanceof TemplateError) throw new Unprocessable('template_render', err.message);
    throw err;
  }
}

/**
 * Publishes a draft template version: by another principal than its drafter (403 `four_eyes`); only a draft (409
 * `not_a_draft`); never one older than the live version (409 `superseded`: publishing it would change nothing a send
 * uses). Answers the version now live and its difference against the one it replaces.
 */
export async function publishTemplate(catalog: TemplateCatalog, t: { key: string; channel: Channel; locale: string }, version: number, by: string) {
  const name = `template ${t.key} (${t.channel}, ${t.locale}) version ${version}`;
  const versions = await catalog.versions(t.key, t.channel, t.locale);
  const row = versions.find((v) => v.version === version);
  if (!row) throw notFound('template', `${t.key}/${t.channel}/${t.locale}@${version}`);
  if (row.status !== 'draft') throw conflict('not_a_draft', `${name} is ${row.status}; only a draft can be published`);
  checkFourEyes(name, row.createdBy, by);
  const live = versions.find((v) => v.status === 'published');
  if (live && live.version > version) throw conflict('superseded', `${name} is older than the live version ${live.version}; draft it again to publish it`);
  const published = await catalog.markPublished(t.key, t.channel, t.locale, version, by);
  if (!published) throw conflict('not_a_draft', `${name} changed meanwhile`);
  return published;
}

type TemplateRow = {
  key: string;
  channel: string;
  locale: string;
  version: number;
  status: string;
  subject: string | null;
  text: string;
  html: string | null;
};
const contentOf = (r: Pick<TemplateRow, 'subject' | 'text' | 'html'>): TemplateContent => ({
  ...(r.subject !== null ? { subject: r.subject } : {}),
  text: r.text,
  ...(r.html !== null ? { html: r.html } : {}),
});
const ORDER = [{ key: 'asc' }, { channel: 'asc' }, { locale: 'asc' }, { version: 'desc' }] as const;

/** Templates as versioned rows in Postgres: drafts, and published versions a send may use. */
export class TemplateCatalog {
  private cached?: { at: number; store: Promise<TemplateStore> };

  constructor(
    private readonly db: Db,
    private readonly cacheMs = 5_000,
  ) {}

  /** Loads the files' templates as published version 1 of every (key, channel, locale) that has no version yet. */
  async seed(files = TemplateStore.fromFiles()): Promise<number> {
    const now = new Date();
    const r = await this.db.messageTemplate.createMany({
      data: files.all().map((t) => ({
        key: t.key,
        channel: t.channel,
        locale: t.locale,
        version: 1,
        status: 'published',
        subject: t.content.subject ?? null,
        text: t.content.text,
        html: t.content.html ?? null,
        createdBy: SEED_PRINCIPAL,
        publishedBy: SEED_PRINCIPAL,
        publishedAt: now,
      })),
      skipDuplicates: true,
    });
    this.cached = undefined;
    return r.count;
  }

  /** The newest published version of every template (cached briefly: a send does not query templates each time). */
  snapshot(): Promise<TemplateStore> {
    if (this.cached && Date.now() - this.cached.at < this.cacheMs) return this.cached.store;
    const store = this.db.messageTemplate.findMany({ where: { status: 'published' }, orderBy: [...ORDER], distinct: ['key', 'channel', 'locale'] }).then((rows) => {
      const entries: Entries = new Map();
      for (const r of rows) {
        const id = `${r.key}|${r.channel}`;
        entries.set(id, { ...(entries.get(id) ?? {}), [r.locale]: contentOf(r) });
      }
      return new TemplateStore(entries);
    });
    this.cached = { at: Date.now(), store };
    store.catch(() => (this.cached = undefined));
    return store;
  }

  /** Every (key, channel, locale): its live (newest published) version, or its newest draft when none is live yet;
   * `draftVersion` names a draft newer than the live version, waiting to be published. */
  async list() {
    const [published, drafts] = await Promise.all(
      (['published', 'draft'] as const).map((status) => this.db.messageTemplate.findMany({ where: { status }, orderBy: [...ORDER], distinct: ['key', 'channel', 'locale'] })),
    );
    const id = (r: TemplateRow) => `${r.key}|${r.channel}|${r.locale}`;
    const newestDraft = new Map(drafts!.map((r) => [id(r), r]));
    const live = new Set(published!.map(id));
    return [...published!, ...drafts!.filter((r) => !live.has(id(r)))]
      .map((r) => {
        const draft = newestDraft.get(id(r));
        return { ...r, draftVersion: draft && draft.version > r.version ? draft.version : null };
      })
      .sort((a, b) => id(a).localeCompare(id(b)));
  }

  /** Every version of one template, newest first. */
  async versions(key: string, channel: Channel, locale: string) {
    return this.db.messageTemplate.findMany({ where: { key, channel, locale }, orderBy: { version: 'desc' } });
  }

  /** One stored version (any status), or undefined. */
  async get(key: string, channel: Channel, locale: string, version: number) {
    return (await this.db.messageTemplate.findUnique({ where: { key_channel_locale_version: { key, channel, locale, version } } })) ?? undefined;
  }

  /** Stores a new draft version, drafted by `by` (a principal id); the previous versions stay for the record. */
  async put(key: string, channel: Channel, locale: string, content: TemplateContent, by: string) {
    return insertNextVersion(
      async () => (await this.db.messageTemplate.findFirst({ where: { key, channel, locale }, orderBy: { version: 'desc' }, select: { version: true } }))?.version,
      (version) =>
        this.db.messageTemplate.create({
          data: { key, channel, locale, version, status: 'draft', subject: content.subject ?? null, text: content.text, html: content.html ?? null, createdBy: by },
        }),
    );
  }

  /**
   * Publishes a draft version, `by` a principal. What may refuse it (drafter is publisher, not a draft, older than the
   * live version) is the caller's to check with `publishable`; this only flips a row that is still a draft, and
   * answers the live version it replaces (undefined: the first) with the difference of their contents. Undefined when
   * the row is no draft any more (published meanwhile).
   */
  async markPublished(key: string, channel: Channel, locale: string, version: number, by: string) {
    const live = await this.db.messageTemplate.findFirst({ where: { key, channel, locale, status: 'published' }, orderBy: { version: 'desc' } });
    const r = await this.db.messageTemplate.updateMany({
      where: { key, channel, locale, version, status: 'draft' },
      data: { status: 'published', publishedBy: by, publishedAt: new Date() },
    });
    if (r.count === 0) return undefined;
    this.cached = undefined;
    const row = (await this.get(key, channel, locale, version))!;
    return { template: row, previousVersion: live?.version ?? null, diff: contentDiff(live ? contentOf(live) : {}, contentOf(row)) };
  }
}

/** What publishing a template changes: subject, text and html against the live version's. */
export function contentDiff(before: Partial<TemplateContent>, after: TemplateContent): Difference[] {
  return diff(before, after);
}
