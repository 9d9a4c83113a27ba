// Message templates: per template key, per channel, per locale. Rendering substitutes {{path}} from the variables
// (customer profile, the event's data, the journey's params). Text is substituted as is; HTML gets escaped values.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Channel } from '../engine/definition.js';
import { readField } from '../engine/engine.js';

const Content = z.object({ subject: z.string().optional(), text: z.string(), html: z.string().optional() }).strict();
const TemplateFile = z.record(z.string(), z.partialRecord(z.enum(['email', 'sms', 'webhook']), z.record(z.string(), Content)));
export type TemplateContent = z.infer<typeof Content>;

export class TemplateError extends Error {}

export const DEFAULT_LOCALE = 'en';
const TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../templates');

export class TemplateStore {
  constructor(private readonly templates: z.infer<typeof TemplateFile>) {}

  /** Every `*.json` file of the templates folder; a key defined twice is refused. */
  static fromFiles(dir = TEMPLATE_DIR): TemplateStore {
    const all: z.infer<typeof TemplateFile> = {};
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      const file = TemplateFile.parse(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
      for (const k of Object.keys(file)) if (all[k]) throw new TemplateError(`template "${k}" is defined twice (${f})`);
      Object.assign(all, file);
    }
    return new TemplateStore(all);
  }

  has(key: string, channel: Channel): boolean {
    return this.templates[key]?.[channel] !== undefined;
  }

  /** The content in the customer's locale, else its language (zh-TW → zh-CN is not assumed), else English. */
  render(key: string, channel: Channel, locale: string, vars: Record<string, unknown>): TemplateContent {
    const byLocale = this.templates[key]?.[channel];
    if (!byLocale) throw new TemplateError(`no ${channel} template "${key}"`);
    const lang = locale.split('-')[0];
    const content =
      byLocale[locale] ??
      Object.entries(byLocale).find(([l]) => l.split('-')[0] === lang)?.[1] ??
      byLocale[DEFAULT_LOCALE] ??
      Object.values(byLocale)[0]!;
    return {
      ...(content.subject !== undefined ? { subject: substitute(content.subject, vars, false) } : {}),
      text: substitute(content.text, vars, false),
      ...(content.html !== undefined ? { html: substitute(content.html, vars, true) } : {}),
    };
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function substitute(text: string, vars: Record<string, unknown>, html: boolean): string {
  return text.replace(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g, (_, p: string) => {
    const v = readField(vars, p);
    const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return html ? escapeHtml(s) : s;
  });
}
