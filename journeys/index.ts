// The built-in journey definitions (JSON documents in this folder, seeded into Postgres as version 1 on first start)
// and the catalog of event types business systems send.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JourneyDefinition } from '../engine/definition.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BUILT_IN_KEYS = ['bank-loan', 'fund-dca', 'insurance-event', 'lifecycle', 'light-touch'] as const;

export function loadBuiltIn(key: string): JourneyDefinition {
  const raw: unknown = JSON.parse(readFileSync(path.join(here, `${key}.json`), 'utf8'));
  const parsed = JourneyDefinition.safeParse(raw);
  if (!parsed.success) throw new Error(`journey definition ${key}.json is invalid: ${parsed.error.message}`);
  return parsed.data;
}

export function builtInDefinitions(): JourneyDefinition[] {
  return BUILT_IN_KEYS.map(loadBuiltIn);
}

/** Event types with the data fields they carry (journeys/events.json). */
export function eventCatalog(): Record<string, { description: string; fields: string[] }> {
  return (JSON.parse(readFileSync(path.join(here, 'events.json'), 'utf8')) as { events: Record<string, { description: string; fields: string[] }> }).events;
}
