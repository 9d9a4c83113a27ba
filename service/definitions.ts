// Journey definitions as versioned data in Postgres: draft → published → retired. A published version is never
// changed; a new start takes the newest published version; a running journey runs the document it travels with (the
// workflow input): the one it started with, until a migration (service/migrations.ts) hands it a newer published
// version, which it keeps from then on, across continue-as-new. Four-eyes: a version is published by another principal than the one who drafted
// it, and the publish answers with what changes against the version that was live.
import diff, { type Difference } from 'microdiff';
import { z } from 'zod';
import type { ChannelName } from '../engine/channels.js';
import { JourneyDefinition, ParamsError, resolveParams, walkSteps } from '../engine/definition.js';
import { kindOf } from '../engine/kinds/index.js';
import { DEFAULT_DURATION_LIMITS, type DurationLimits } from '../engine/duration.js';
import { type Problem, type ValidationContext, formatPath, validateDefinition } from '../engine/validate.js';
import type { TemplateStore } from '../channels/templates.js';

/** Where validation reads templates from: the catalog in production, the files in tests. */
export type TemplateSource = { snapshot(): Promise<TemplateStore> };
import { type Db, Prisma } from '../db/client.js';
import { insertNextVersion } from '../db/unique.js';
import { builtInDefinitions, eventCatalog } from '../journeys/index.js';
import { conflict, Forbidden, Invalid, notFound, Unprocessable } from './errors.js';

/** The principal that loads the built-in templates and journeys at start-up (it drafts and publishes them). */
export const SEED_PRINCIPAL = 'system:seed';

export type DefinitionStatus = 'draft' | 'published' | 'retired';

export interface StoredDefinition {
  key: string;
  version: number;
  status: DefinitionStatus;
  definition: JourneyDefinition;
  createdAt: Date;
  publishedAt: Date | null;
  retiredAt: Date | null;
  /** Principal ids: who drafted, published and retired this version (null for versions older than the record). */
  createdBy: string | null;
  publishedBy: string | null;
  retiredBy: string | null;
}

/** What a publish answers: the version now live, and its changes against the one that was (null: the first). */
export type Published<T> = T & { previousVersion: number | null; diff: Difference[] };

export class DefinitionStore {
  private readonly knownEvents: ReadonlySet<string>;
  private readonly eventFields: Map<string, string[]>;
  private published?: { at: number; rows: Promise<StoredDefinition[]> };

  constructor(
    private readonly db: Db,
    private readonly templates: TemplateSource,
    private readonly cacheMs = 5_000,
    /** Bounds on durations, for definitions at validation and for params at start (config `JOURNEY_MAX_DURATION`). */
    readonly durationLimits: DurationLimits = DEFAULT_DURATION_LIMITS,
    /** Optional channels this deployment has not configured, with why (channels/registry.ts `channelsNotConfigured`):
     * a version that sends on one is not published. */
    private readonly notConfigured: Partial<Record<ChannelName, string>> = {},
  ) {
    const catalog = eventCatalog();
    this.knownEvents = new Set(Object.keys(catalog));
    this.eventFields = new Map(Object.entries(catalog).map(([type, e]) => [type, e.fields]));
  }

  /** The data fields the event catalogue (journeys/events.json) declares for an event type; undefined when the type is
   * not in it. */
  declaredFields(type: string): readonly string[] | undefined {
    return this.eventFields.get(type);
  }

  /** Loads the built-in journeys as published version 1 of each key that has no version yet. */
  async seedBuiltIns(): Promise<string[]> {
    const seeded: string[] = [];
    for (const def of builtInDefinitions()) {
      const r = await this.db.journeyDefinitionVersion.createMany({
        data: [
          {
            key: def.key,
            version: 1,
            status: 'published',
            document: { ...def, version: 1 } as Prisma.InputJsonValue,
            publishedAt: new Date(),
            createdBy: SEED_PRINCIPAL,
            publishedBy: SEED_PRINCIPAL,
          },
        ],
        skipDuplicates: true,
      });
      if (r.count && (await this.db.journeyDefinitionVersion.count({ where: { key: def.key } })) === 1) seeded.push(def.key);
    }
    this.published = undefined;
    return seeded;
  }

  /** Parses a document against the language's schema; a 400 with every problem when it does not fit. */
  parse(document: unknown): JourneyDefinition {
    const r = JourneyDefinition.safeParse(document);
    if (!r.success) {
      const details = schemaProblems(r.error);
      throw new Invalid('invalid_definition', `the definition does not fit the schema: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
    }
    return r.data;
  }

  async context(): Promise<ValidationContext> {
    const keys = await this.db.journeyDefinitionVersion.findMany({ distinct: ['key'], select: { key: true } });
    const templates = await this.templates.snapshot();
    return {
      durationLimits: this.durationLimits,
      hasTemplate: (key, channel) => templates.has(key, channel),
      templateVariables: (key, channel) => templates.variables(key, channel),
      eventFields: (type) => this.eventFields.get(type),
      knownEvents: this.knownEvents,
      journeyKeys: new Set(keys.map((k) => k.key)),
    };
  }

  /** Static problems of a parsed definition, and the params its chorus steps would start other journeys with. */
  private async problems(def: JourneyDefinition): Promise<Problem[]> {
    return [...validateDefinition(def, await this.context()), ...(await this.chorusParamProblems(def))];
  }

  /**
   * A `startJourney` step's params, checked against the target's newest published version (or this definition, when
   * it starts itself): a param the target does not declare, or of the wrong type, would be refused at every start,
   * so it is refused here, once, instead of failing in a running journey. A target with no published version yet
   * cannot be checked: params for it are a problem; a step without params is not.
   */
  private async chorusParamProblems(def: JourneyDefinition): Promise<Problem[]> {
    const steps: { params: Record<string, string | number>; journeyKey: string; path: (string | number)[] }[] = [];
    walkSteps(def, (s, path) => {
      if (s.type === 'startJourney' && s.params && Object.keys(s.params).length) steps.push({ params: s.params, journeyKey: s.journeyKey, path });
    });
    const problems: Problem[] = [];
    for (const step of steps) {
      const target = step.journeyKey === def.key ? def : (await this.latestPublished(step.journeyKey))?.definition;
      if (!target) {
        problems.push({ path: formatPath([...step.path, 'params']), message: `journey "${step.journeyKey}" has no published version to check these params against` });
        continue;
      }
      const here = (name: string) => formatPath([...step.path, 'params', name]);
      const unknown = Object.keys(step.params).filter((name) => !Object.hasOwn(target.params, name));
      for (const name of unknown) problems.push({ path: here(name), message: `journey "${target.key}" has no parameter "${name}"` });
      if (unknown.length) continue;
      try {
        resolveParams(target, step.params, this.durationLimits);
      } catch (err) {
        if (!(err instanceof ParamsError)) throw err;
        for (const p of err.problems) problems.push({ path: here(p.param), message: `journey "${target.key}" parameter "${p.param}" ${p.message}` });
      }
    }
    return problems;
  }

  /** Schema and static problems of a document, without storing anything. */
  async validate(document: unknown): Promise<{ valid: boolean; problems: Problem[] }> {
    const r = JourneyDefinition.safeParse(document);
    if (!r.success) return { valid: false, problems: schemaProblems(r.error) };
    const problems = await this.problems(r.data);
    return { valid: problems.length === 0, problems };
  }

  /**
   * Stores a document as the next draft version of its key, drafted by `by` (a principal id). A draft under a built-in
   * key is allowed: a bank tailors its journeys, and no draft goes live before another principal publishes it.
   */
  async createDraft(document: unknown, by: string): Promise<StoredDefinition & { problems: Problem[] }> {
    const def = this.parse(document);
    const problems = await this.problems(def);
    // Two drafts of one key at once: the second takes the next number.
    const row = await insertNextVersion(
      async () => (await this.db.journeyDefinitionVersion.findFirst({ where: { key: def.key }, orderBy: { version: 'desc' }, select: { version: true } }))?.version,
      (version) =>
        this.db.journeyDefinitionVersion.create({
          data: { key: def.key, version, status: 'draft', document: { ...def, version } as Prisma.InputJsonValue, createdBy: by },
        }),
    );
    return { ...toStored(row), problems };
  }

  async get(key: string, version: number): Promise<StoredDefinition> {
    const row = await this.db.journeyDefinitionVersion.findUnique({ where: { key_version: { key, version } } });
    if (!row) throw notFound('journey definition', `${key}@${version}`);
    return toStored(row);
  }

  async list() {
    const rows = await this.db.journeyDefinitionVersion.findMany({ orderBy: [{ key: 'asc' }, { version: 'asc' }] });
    const byKey = new Map<string, typeof rows>();
    for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    return [...byKey.entries()].map(([key, versions]) => {
      const published = versions.filter((v) => v.status === 'published').at(-1);
      const latest = versions.at(-1)!;
      return {
        key,
        name: (latest.document as { name?: string }).name ?? key,
        publishedVersion: published?.version ?? null,
        versions: versions.map((v) => ({
          version: v.version,
          status: v.status,
          createdAt: v.createdAt,
          createdBy: v.createdBy,
          publishedAt: v.publishedAt,
          publishedBy: v.publishedBy,
          retiredAt: v.retiredAt,
        })),
      };
    });
  }

  /** The newest published version of a key: what a new journey starts on. */
  async latestPublished(key: string): Promise<StoredDefinition | undefined> {
    return (await this.allPublished()).find((d) => d.key === key);
  }

  /**
   * The newest published version of every key. Every event asks (for entry rules) and every start: they are read and
   * parsed once per `cacheMs`, not per request (the bench's profile showed the per-event parse). A publish or a
   * retire through this store is seen at once; one through another process within `cacheMs`.
   */
  allPublished(): Promise<StoredDefinition[]> {
    if (this.published && Date.now() - this.published.at < this.cacheMs) return this.published.rows;
    const rows = this.db.journeyDefinitionVersion
      .findMany({ where: { status: 'published' }, orderBy: [{ key: 'asc' }, { version: 'desc' }], distinct: ['key'] })
      .then((r) => r.map(toStored));
    this.published = { at: Date.now(), rows };
    rows.catch(() => (this.published = undefined));
    return rows;
  }

  /** Publishes a draft: by another principal than its drafter (403 `four_eyes`), only when it validates. */
  async publish(key: string, version: number, by: string): Promise<Published<StoredDefinition>> {
    const stored = await this.get(key, version);
    if (stored.status !== 'draft') throw conflict('not_a_draft', `${key}@${version} is ${stored.status}; only a draft can be published`);
    checkFourEyes(`journey definition ${key}@${version}`, stored.createdBy, by);
    const problems = await this.problems(stored.definition);
    if (problems.length)
      throw new Unprocessable('definition_invalid', `${key}@${version} cannot be published: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
    // A send on a channel this deployment has not configured would fail for every customer: not published. (A draft
    // may be prepared before the channel is set up; only going live is refused.)
    const offChannels = this.unconfiguredSends(stored.definition);
    if (offChannels.length)
      throw new Unprocessable(
        'channel_not_configured',
        `${key}@${version} cannot be published: it sends on a channel this deployment has not configured: ${offChannels.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
        offChannels,
      );
    const live = await this.db.journeyDefinitionVersion.findFirst({ where: { key, status: 'published' }, orderBy: { version: 'desc' } });
    const r = await this.db.journeyDefinitionVersion.updateMany({
      where: { key, version, status: 'draft' },
      data: { status: 'published', publishedAt: new Date(), publishedBy: by },
    });
    if (r.count === 0) throw conflict('not_a_draft', `${key}@${version} changed meanwhile`);
    this.published = undefined;
    const now = await this.get(key, version);
    return { ...now, previousVersion: live?.version ?? null, diff: documentDiff(live ? toStored(live).definition : {}, now.definition) };
  }

  /** The send steps of a definition on channels this deployment has not configured, each with why. */
  private unconfiguredSends(def: JourneyDefinition): Problem[] {
    const found: Problem[] = [];
    walkSteps(def, (s, path) => {
      const touch = kindOf(s).uses(s).touch;
      const why = touch?.action === 'send' ? this.notConfigured[touch.channel] : undefined;
      if (why !== undefined && touch?.action === 'send') found.push({ path: formatPath(path), message: `the ${touch.channel} channel is not configured (${why})` });
    });
    return found;
  }

  async retire(key: string, version: number, by: string): Promise<StoredDefinition> {
    const stored = await this.get(key, version);
    if (stored.status !== 'published') throw conflict('not_published', `${key}@${version} is ${stored.status}; only a published version can be retired`);
    await this.db.journeyDefinitionVersion.updateMany({ where: { key, version, status: 'published' }, data: { status: 'retired', retiredAt: new Date(), retiredBy: by } });
    this.published = undefined;
    return this.get(key, version);
  }
}

/**
 * Four-eyes: the principal who publishes a version is not the one who drafted it. A version whose drafter is not
 * recorded (drafted before drafters were) is refused too: nobody can show it had a second pair of eyes.
 */
export function checkFourEyes(what: string, draftedBy: string | null, by: string): void {
  if (draftedBy === null) throw new Forbidden('four_eyes', `${what} has no recorded drafter, so four-eyes cannot be shown: draft it again, then publish that draft`);
  if (draftedBy === by) throw new Forbidden('four_eyes', `${what} was drafted by the principal now publishing it; four-eyes: another principal must review and publish it`);
}

/** What publishing changes: the difference between two documents, their own version numbers left out. */
export function documentDiff(before: unknown, after: unknown): Difference[] {
  const strip = (d: unknown) => {
    const { version: _v, ...rest } = (d ?? {}) as Record<string, unknown>;
    return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
  };
  return diff(strip(before), strip(after));
}

function toStored(row: {
  key: string;
  version: number;
  status: string;
  document: unknown;
  createdAt: Date;
  publishedAt: Date | null;
  retiredAt: Date | null;
  createdBy: string | null;
  publishedBy: string | null;
  retiredBy: string | null;
}): StoredDefinition {
  return {
    key: row.key,
    version: row.version,
    status: row.status as DefinitionStatus,
    // Stored documents were validated on the way in; parsing again fills defaults added to the language since.
    definition: JourneyDefinition.parse(row.document),
    createdAt: row.createdAt,
    publishedAt: row.publishedAt,
    retiredAt: row.retiredAt,
    createdBy: row.createdBy,
    publishedBy: row.publishedBy,
    retiredBy: row.retiredBy,
  };
}

function schemaProblems(error: z.ZodError): Problem[] {
  return error.issues.map((i) => ({ path: formatPath(i.path as (string | number)[]), message: i.message }));
}
