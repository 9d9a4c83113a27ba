// Message templates rendered: per key, channel and locale, with LiquidJS against the customer's profile, the event's
// data and the journey's params; `TemplateStore` is one immutable set of them (the files of templates/, or a snapshot of
// the published versions). Text is rendered as is; HTML escapes every output. Where they are stored, versioned and
// published (Postgres, draft → published, four-eyes) is service/templates.ts (`TemplateCatalog`).
//
// Templates are written by people outside the engineering team and run inside the worker, so rendering is sandboxed:
// no tag reads a file or another template (`include`, `render` and `layout` are refused when a template is parsed, and
// the engines' file system finds nothing, should a tag ever reach it), and every parse and render runs under LiquidJS's
// budgets (source length, wall-clock time, allocation). The rendered output is capped per channel. Whatever breaks a
// limit is a `TemplateLimitError`: a send fails for good (retrying renders the same), an upload is refused.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Context, type FS, Liquid, Tag, type TagToken, type Template, type TopLevelToken } from 'liquidjs';
import { z } from 'zod';
import { CHANNEL_NAMES, type ChannelName as Channel, perChannel } from '../engine/channels.js';
import { localDate, localDateTime, money } from './format.js';

export const Content = z.object({ subject: z.string().min(1).max(300).optional(), text: z.string().min(1).max(20_000), html: z.string().max(100_000).optional() }).strict();
export type TemplateContent = z.infer<typeof Content>;
const TemplateFile = z.record(z.string(), z.partialRecord(z.enum(CHANNEL_NAMES), z.record(z.string(), Content)));

export class TemplateError extends Error {}
/** A template broke a budget (parse length, render time, allocation) or its output is over its channel's cap. */
export class TemplateLimitError extends TemplateError {}

/** LiquidJS budgets, the same for every template. Real templates parse in well under a millisecond and allocate little. */
export const TEMPLATE_LIMITS = {
  /** Characters parsed in one call (a stored html part is at most 100 000). */
  parseLimit: 300_000,
  /** Wall-clock milliseconds one render may take. */
  renderLimit: 250,
  /** LiquidJS's allocation units in one render (range sizes, string and array building). */
  memoryLimit: 5_000_000,
} as const;

/** The longest output each channel accepts, in characters (engine/channels.ts says why each is what it is). */
export const OUTPUT_CAPS: Record<Channel, { subject: number; text: number; html: number }> = perChannel((_c, facts) => facts.outputCaps);

export const DEFAULT_LOCALE = 'en';
const TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../templates');

/** The engines' file system: nothing exists and nothing can be read. */
const NO_FILES: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file) => Promise.reject(new TemplateError(`templates cannot read files ("${file}")`)),
  readFileSync: (file) => {
    throw new TemplateError(`templates cannot read files ("${file}")`);
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

/** Stands in for `include`, `render` and `layout`: refused when the template is parsed, so it is never stored. */
class RefusedTag extends Tag {
  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
    super(token, remain, liquid);
    throw new Error(`{% ${token.name} %} is not allowed: a template cannot read files or other templates`);
  }
  *render(): Generator<unknown, void, unknown> {}
}

/** The global a render gives the filters: the locale dates and amounts are written in. */
const FORMAT_LOCALE = '__formatLocale';

function sandboxed(extra: { outputEscape?: 'escape' } = {}): Liquid {
  const engine = new Liquid({
    ...extra,
    strictFilters: true,
    ownPropertyOnly: true,
    fs: NO_FILES,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    dynamicPartials: false,
    ...TEMPLATE_LIMITS,
  });
  for (const name of ['include', 'render', 'layout']) engine.registerTag(name, RefusedTag);
  // Dates and amounts through Intl (channels/format.ts): in the customer's zone, and in the locale of the content being
  // rendered (an English fallback for a French customer writes English dates), unless the template names them.
  const zone = (ctx: Context) => ctx.getSync(['customer', 'timeZone']);
  const locale = (ctx: Context) => ctx.getSync([FORMAT_LOCALE]) ?? ctx.getSync(['customer', 'locale']);
  engine.registerFilter('local_date', function (value: unknown, z?: unknown, l?: unknown) {
    return localDate(value, z ?? zone(this.context), l ?? locale(this.context));
  });
  engine.registerFilter('local_datetime', function (value: unknown, z?: unknown, l?: unknown) {
    return localDateTime(value, z ?? zone(this.context), l ?? locale(this.context));
  });
  engine.registerFilter('money', function (value: unknown, currency?: unknown, l?: unknown) {
    return money(value, currency, l ?? locale(this.context));
  });
  return engine;
}

const textEngine = sandboxed();
const htmlEngine = sandboxed({ outputEscape: 'escape' });
const parsed = new Map<string, Template[]>();
function parse(engine: Liquid, source: string): Template[] {
  const k = `${engine === htmlEngine ? 'h' : 't'}:${source}`;
  let t = parsed.get(k);
  if (!t) {
    t = engine.parse(source);
    if (parsed.size > 5_000) parsed.clear();
    parsed.set(k, t);
  }
  return t;
}

/** Liquid syntax and filters of one content, checked before it is stored. */
export function checkContent(content: TemplateContent): string | undefined {
  try {
    for (const s of [content.subject, content.text]) if (s !== undefined) parse(textEngine, s);
    if (content.html !== undefined) parse(htmlEngine, content.html);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The variables (as paths) one content reads. */
export function contentVariables(content: TemplateContent): string[][] {
  const seen = new Map<string, string[]>();
  const sources: [Liquid, string | undefined][] = [
    [textEngine, content.subject],
    [textEngine, content.text],
    [htmlEngine, content.html],
  ];
  for (const [engine, src] of sources) if (src !== undefined) for (const segs of engine.globalVariableSegmentsSync(parse(engine, src))) seen.set(segs.join('.'), segs.map(String));
  return [...seen.values()];
}

export type Entries = Map<string, Record<string, TemplateContent>>; // `${key}|${channel}` → locale → content

/** An immutable set of templates: what one send or one validation sees. */
export class TemplateStore {
  constructor(private readonly entries: Entries) {}

  /** Every `*.json` file of the templates folder; a key defined twice is refused. */
  static fromFiles(dir = TEMPLATE_DIR): TemplateStore {
    const entries: Entries = new Map();
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const file = TemplateFile.parse(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
      for (const [key, channels] of Object.entries(file))
        for (const [channel, locales] of Object.entries(channels)) {
          const id = `${key}|${channel}`;
          if (entries.has(id)) throw new TemplateError(`template "${key}" (${channel}) is defined twice (${f})`);
          entries.set(id, locales);
        }
    }
    return new TemplateStore(entries);
  }

  all(): { key: string; channel: Channel; locale: string; content: TemplateContent }[] {
    return [...this.entries].flatMap(([id, locales]) => {
      const [key, channel] = id.split('|') as [string, Channel];
      return Object.entries(locales).map(([locale, content]) => ({ key, channel, locale, content }));
    });
  }

  has(key: string, channel: Channel): boolean {
    return this.entries.has(`${key}|${channel}`);
  }

  /** The variables (as paths) a template reads, in any of its locales. */
  variables(key: string, channel: Channel): string[][] {
    const seen = new Map<string, string[]>();
    for (const content of Object.values(this.entries.get(`${key}|${channel}`) ?? {})) for (const segs of contentVariables(content)) seen.set(segs.join('.'), segs);
    return [...seen.values()];
  }

  /** The content in the customer's locale, else its language's, else English. */
  render(key: string, channel: Channel, locale: string, vars: Record<string, unknown>): TemplateContent {
    const byLocale = this.entries.get(`${key}|${channel}`);
    if (!byLocale) throw new TemplateError(`no ${channel} template "${key}"`);
    const lang = locale.split('-')[0];
    const [contentLocale, content] =
      (byLocale[locale] !== undefined ? [locale, byLocale[locale]] : undefined) ??
      Object.entries(byLocale).find(([l]) => l.split('-')[0] === lang) ??
      (byLocale[DEFAULT_LOCALE] !== undefined ? [DEFAULT_LOCALE, byLocale[DEFAULT_LOCALE]] : undefined) ??
      Object.entries(byLocale)[0]!;
    // Dates and amounts in the customer's own locale when the content is in their language (en-US reads an `en`
    // content with US dates), else in the content's.
    const formatLocale = contentLocale.split('-')[0] === lang ? locale : contentLocale;
    return renderContent(content, channel, vars, `template "${key}" (${channel}, ${locale})`, formatLocale);
  }
}

/** Whether LiquidJS stopped on one of its budgets (its limiter asserts `<resource> limit exceeded`). */
function brokeLimit(err: unknown): boolean {
  for (let e = err as { name?: string; message?: string; originalError?: unknown } | undefined, depth = 0; e && depth < 5; e = e.originalError as typeof e, depth++)
    if (e.name === 'AssertionError' && /limit exceeded/.test(e.message ?? '')) return true;
  return false;
}

/** Renders one content for a channel under the budgets, and checks its output against the channel's caps. `label`
 * names the template in error messages (never the data it was rendered with); `formatLocale` is the locale the date
 * and money filters write in (default: the customer's). */
export function renderContent(content: TemplateContent, channel: Channel, vars: Record<string, unknown>, label = 'the template', formatLocale?: string): TemplateContent {
  const caps = OUTPUT_CAPS[channel];
  const globals = formatLocale !== undefined ? { globals: { [FORMAT_LOCALE]: formatLocale } } : {};
  const part = (name: 'subject' | 'text' | 'html', engine: Liquid, source: string): string => {
    let out: string;
    try {
      out = engine.renderSync(parse(engine, source), vars, globals) as string;
    } catch (err) {
      const message = `${label} failed to render its ${name}: ${(err as Error).message}`;
      throw brokeLimit(err) ? new TemplateLimitError(message) : new TemplateError(message);
    }
    if (out.length > caps[name]) throw new TemplateLimitError(`${label} renders a ${name} of ${out.length} characters; ${channel} allows at most ${caps[name]}`);
    return out;
  };
  return {
    ...(content.subject !== undefined ? { subject: part('subject', textEngine, content.subject) } : {}),
    text: part('text', textEngine, content.text),
    ...(content.html !== undefined ? { html: part('html', htmlEngine, content.html) } : {}),
  };
}
