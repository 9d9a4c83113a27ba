// The built-in journey definitions, shipped as JSON documents in this folder and validated on load.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JourneyDefinition } from '../engine/definition.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILT_IN = ['bank-loan'];

function load(key: string): JourneyDefinition {
  const raw: unknown = JSON.parse(readFileSync(path.join(here, `${key}.json`), 'utf8'));
  const parsed = JourneyDefinition.safeParse(raw);
  if (!parsed.success) throw new Error(`journey definition ${key}.json is invalid: ${parsed.error.message}`);
  return parsed.data;
}

export interface JourneyCatalog {
  get(key: string): JourneyDefinition | undefined;
  keys(): string[];
}

export function builtInJourneys(): JourneyCatalog {
  const defs = new Map(BUILT_IN.map((k) => [k, load(k)]));
  return { get: (k) => defs.get(k), keys: () => [...defs.keys()] };
}
