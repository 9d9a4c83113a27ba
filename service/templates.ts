// Templates as the API sees them: an upload is rendered against sample data before it is stored, so a template that
// breaks a budget or its channel's output cap is refused with a 400 instead of failing every send later; a preview
// renders a stored or an ad-hoc template for designers and tests; a draft goes live when another principal publishes it.
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
  type TemplateCatalog,
  type TemplateContent,
} from '../channels/templates.js';
import { conflict, Invalid, NotFound, notFound, Unprocessable } from './errors.js';
import { checkFourEyes } from './definitions.js';
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
