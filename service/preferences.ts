// What a customer may do with the link of a marketing email, without signing in: unsubscribe with one click, or, on
// the preference page, stop marketing on a channel, stop the journey that wrote, or ask for fewer messages (the
// journey ends and the light, service-only `light-touch` journey takes over). Each choice goes the normal way of
// everything a customer does: an inbound event (recorded once under an id made from the link and the choice, so a
// second click is a duplicate, not a second change), its consent change with provenance (`consent_changes`: the
// link's principal `link:<id>` and the request), and the journeys it is delivered to.
import { z } from 'zod';
import type { Db } from '../db/client.js';
import type { ChannelName } from '../channels/channel.js';
import type { DefinitionStore } from './definitions.js';
import { Conflict } from './errors.js';
import type { Actor, JourneyService } from './journeys.js';
import type { PreferenceLink } from './preference-links.js';
import { ConsentChannel, marketingConsentKey } from './schemas.js';

/** The journey the customer moves to when they ask for fewer messages (journeys/light-touch.json). */
export const LIGHT_JOURNEY_KEY = 'light-touch';
/** The reasons the journey that sent the email ends with, for each choice that ends it. */
export const STOPPED_REASON = 'customer_stopped';
export const FEWER_MESSAGES_REASON = 'fewer_messages';

/** A choice on the preference page, as its form posts it. */
export const PreferenceChoice = z.discriminatedUnion('choice', [
  z.object({ choice: z.literal('stop_channel'), channel: ConsentChannel }).strict(),
  z.object({ choice: z.literal('stop_journey') }).strict(),
  z.object({ choice: z.literal('fewer_messages') }).strict(),
]);
export type PreferenceChoice = z.infer<typeof PreferenceChoice>;

/** What the preference page shows: where the link came from and what the customer receives now. */
export interface PreferenceView {
  locale: string;
  /** The customer's zone, if known: the page writes the link's expiry in it. */
  timeZone?: string;
  /** Per channel: whether its marketing messages still reach the customer. */
  marketing: Record<ChannelName, boolean>;
  journey: { workflowId: string; journeyKey: string; name: string; running: boolean };
  expiresAt: Date;
}

export class PreferenceService {
  constructor(
    private readonly deps: {
      db: Db;
      journeys: JourneyService;
      definitions: DefinitionStore;
    },
  ) {}

  /** The page's view of a verified link. An erased (or unknown) customer is NotFound. */
  async view(link: PreferenceLink): Promise<PreferenceView> {
    const customer = await this.deps.journeys.getCustomer(link.customerId);
    const consents = (customer.consents ?? {}) as Record<string, boolean | undefined>;
    const marketing = Object.fromEntries(ConsentChannel.options.map((c) => [c, consents[c] !== false && consents[marketingConsentKey(c)] !== false])) as Record<
      ChannelName,
      boolean
    >;
    const row = await this.deps.db.journey.findUnique({ where: { workflowId: link.workflowId }, select: { journeyKey: true, version: true, status: true, customerId: true } });
    let name = row?.journeyKey ?? '';
    if (row) {
      try {
        name = (await this.deps.definitions.get(row.journeyKey, row.version)).definition.name;
      } catch {
        // a definition that is gone leaves its key as the name
      }
    }
    return {
      locale: customer.locale,
      ...(customer.timeZone !== null ? { timeZone: customer.timeZone } : {}),
      marketing,
      journey: { workflowId: link.workflowId, journeyKey: row?.journeyKey ?? '', name, running: row?.status === 'running' && row.customerId === link.customerId },
      expiresAt: link.expiresAt,
    };
  }

  /** RFC 8058's one click: marketing on the link's channel is withdrawn (a `customer.opted_out` for that channel, class
   * marketing). Service messages still reach the customer. */
  async unsubscribe(link: PreferenceLink, actor: Actor) {
    await this.deps.journeys.getCustomer(link.customerId);
    return this.optOut(link, link.channel, actor);
  }

  /** One choice of the preference page. Answers what it did, for the audit entry. */
  async choose(link: PreferenceLink, choice: PreferenceChoice, actor: Actor): Promise<{ eventId: string; exited?: string; started?: string[] }> {
    await this.deps.journeys.getCustomer(link.customerId);
    switch (choice.choice) {
      case 'stop_channel':
        return this.optOut(link, choice.channel, actor);
      case 'stop_journey': {
        const journey = await this.ownJourney(link);
        const eventId = eventIdOf(link, 'stop_journey');
        await this.deps.journeys.receiveJourneyEvent(link.workflowId, { eventId, type: 'customer.journey_stopped', data: { journeyKey: journey.journeyKey } }, actor);
        return { eventId, ...(await this.exit(link.workflowId, STOPPED_REASON)) };
      }
      case 'fewer_messages': {
        const journey = await this.ownJourney(link);
        // To the customer: light-touch starts on it (its entry event) and stops the customer's marketing journeys.
        const eventId = eventIdOf(link, 'fewer_messages');
        const r = await this.deps.journeys.receiveEvent(link.customerId, { eventId, type: 'customer.fewer_messages', data: { journeyKey: journey.journeyKey } }, undefined, actor);
        // The journey the email came from ends whatever its tags (a lending journey sends marketing email too).
        return { eventId, started: r.deliveredTo.filter((w) => w !== link.workflowId), ...(await this.exit(link.workflowId, FEWER_MESSAGES_REASON)) };
      }
    }
  }

  private async optOut(link: PreferenceLink, channel: ChannelName, actor: Actor) {
    const eventId = eventIdOf(link, `unsubscribe_${channel}`);
    await this.deps.journeys.receiveEvent(link.customerId, { eventId, type: 'customer.opted_out', data: { channel, class: 'marketing' } }, undefined, actor);
    return { eventId };
  }

  /** The link's journey, which must be the link's customer's and still running (409 `journey_ended` otherwise). */
  private async ownJourney(link: PreferenceLink) {
    const row = await this.deps.db.journey.findUnique({ where: { workflowId: link.workflowId } });
    if (!row || row.customerId !== link.customerId || row.status !== 'running') throw new Conflict('journey_ended', 'this journey has already ended');
    return row;
  }

  private async exit(workflowId: string, reason: string): Promise<{ exited?: string }> {
    try {
      await this.deps.journeys.exitJourney(workflowId, reason);
      return { exited: workflowId };
    } catch (err) {
      if (err instanceof Conflict) return {}; // it ended meanwhile (the event itself may have ended it)
      throw err;
    }
  }
}

/** The event id of one choice made with one link: the same click twice is one event. */
const eventIdOf = (link: PreferenceLink, what: string) => `pref:${link.linkId}:${what}`;
