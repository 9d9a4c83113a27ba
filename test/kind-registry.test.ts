// The registry of node kinds is the one list the other places follow: what the console's journey map draws and walks,
// what analytics counts as waiting, what the validator treats as ending a list. (That a kind missing from it, or missing
// a piece, does not compile is proved by test/kind-registry.test-d.ts, under `npm run typecheck`.)
import { beforeAll, describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput } from '../engine/definition.js';
import { stepRef } from '../engine/engine.js';
import { ENDING_KINDS, KIND_NAMES, KINDS, WAITING_KINDS } from '../engine/kinds/index.js';
import { formatPath, walkSteps } from '../engine/steps.js';
import { builtInDefinitions } from '../journeys/index.js';

type MapModule = { SHOWN: Set<string>; stepLabels(def: unknown): Record<string, string> };
let map: MapModule;

beforeAll(async () => {
  // The console's modules run in the browser; the language switch reads these at load.
  Object.assign(globalThis, { localStorage: { getItem: () => null, setItem: () => undefined } });
  if (!('navigator' in globalThis)) Object.assign(globalThis, { navigator: { language: 'en' } });
  const file = '../console/map.js';
  map = (await import(file)) as MapModule;
});

/** One stage whose entry steps nest every kind that holds steps, each arm holding a step. */
const nested: JourneyDefinitionInput = {
  key: 'nested',
  version: 1,
  name: 'Nested',
  stages: [{ key: 'a', label: 'A', onEnter: [] }],
  initialStage: 'a',
  triggers: [
    {
      event: 'loan.applied',
      steps: [
        {
          type: 'wait',
          for: [
            { event: 'loan.approved', then: [{ type: 'goal', key: 'approved' }] },
            { event: 'loan.declined', then: [{ type: 'exit', reason: 'declined' }] },
          ],
          timeout: 'P1D',
          onTimeout: [{ type: 'send', channel: 'email', template: 'nudge' }],
        },
        { type: 'branch', cases: [{ when: 'event.amount > 1', steps: [{ type: 'delay', duration: 'P1D' }] }], otherwise: [{ type: 'goal', key: 'small' }] },
        {
          type: 'split',
          key: 'ab',
          variants: [
            { name: 'a', weight: 1, steps: [{ type: 'goal', key: 'va' }] },
            { name: 'b', weight: 1 },
          ],
        },
        { type: 'feedback', survey: 'nps', channel: 'sms', template: 'nps', timeout: 'P2D', onAnswer: [{ type: 'goal', key: 'answered' }], onTimeout: [{ type: 'complete' }] },
        { type: 'task', key: 'call', title: 'Call', due: 'P1D', outcomes: { interested: [{ type: 'goal', key: 'interested' }], default: [{ type: 'exit', reason: 'no' }] } },
      ],
    },
  ],
};

describe('the registry of node kinds', () => {
  it('lists every kind the step schema accepts, and no other', () => {
    for (const kind of KIND_NAMES) {
      const parsed = JourneyDefinition.safeParse({ ...nested, triggers: [{ event: 'loan.applied', steps: [{ type: kind }] }] });
      const typeIssue = parsed.success ? undefined : parsed.error.issues.find((i) => i.path.at(-1) === 'type');
      expect(typeIssue, kind).toBeUndefined();
    }
    const unknown = JourneyDefinition.safeParse({ ...nested, triggers: [{ event: 'loan.applied', steps: [{ type: 'teleport' }] }] });
    expect(unknown.success).toBe(false);
  });

  it("draws in the console's journey map exactly the kinds whose entry says so", () => {
    expect([...map.SHOWN].sort()).toEqual(KIND_NAMES.filter((k) => KINDS[k].map.drawn).sort());
  });

  it("walks in the console's journey map the same child lists as the engine, for every kind that holds steps", () => {
    const defs = [JourneyDefinition.parse(nested), ...builtInDefinitions()];
    for (const def of defs) {
      const refs: string[] = [];
      walkSteps(def, (s, path) => refs.push(stepRef(s, formatPath(path))));
      expect(Object.keys(map.stepLabels(def)).sort(), def.key).toEqual(refs.sort());
    }
    const holding = KIND_NAMES.filter((k) => {
      let found = false;
      walkSteps(JourneyDefinition.parse(nested), (s) => {
        if (s.type === k && KINDS[k].arms(s as never).length > 0) found = true;
      });
      return found;
    });
    expect(holding.sort()).toEqual(['branch', 'feedback', 'split', 'task', 'wait']);
  });

  it('derives the waiting and ending kinds from the entries', () => {
    expect([...WAITING_KINDS].sort()).toEqual(['delay', 'delayUntil', 'delayUntilLocalTime', 'feedback', 'task', 'wait']);
    expect([...ENDING_KINDS].sort()).toEqual(['complete', 'exit', 'goto']);
  });
});
