// The outcomes a journey accepts for an RM task, read from its definition: declared outcomes (with or without a
// `default`), outcomes a wait for `task.completed` names, and none at all (anything goes, nothing branches on it).
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import { acceptedOutcomes } from '../service/task-outcomes.js';

const def = (onEnter: unknown[], triggers: unknown[] = []) =>
  JourneyDefinition.parse({
    key: 't',
    version: 1,
    name: 'T',
    stages: [
      { key: 'a', label: 'A', onEnter },
      { key: 'b', label: 'B' },
    ],
    initialStage: 'a',
    triggers,
  } as JourneyDefinitionInput);
const task = (outcomes?: Record<string, unknown[]>) => ({ type: 'task', key: 'call', title: 'Call', due: 'P1D', ...(outcomes ? { outcomes } : {}) });

describe('acceptedOutcomes', () => {
  it.each([
    ['declared outcomes only', def([task({ yes: [{ type: 'stage', stage: 'b' }], no: [] })]), { outcomes: ['yes', 'no'], acceptsOther: false }],
    ['declared with a default branch: other words go there', def([task({ yes: [], default: [] })]), { outcomes: ['yes'], acceptsOther: true }],
    [
      'none declared, a wait names them',
      def([
        task(),
        {
          type: 'wait',
          for: [
            { event: 'task.completed', where: { taskKey: 'call', outcome: 'won' } },
            { event: 'task.completed', where: { outcome: 'lost' } },
          ],
          timeout: 'P1D',
        },
      ]),
      { outcomes: ['won', 'lost'], acceptsOther: false },
    ],
    [
      'a wait for another task does not count',
      def([task(), { type: 'wait', for: [{ event: 'task.completed', where: { taskKey: 'other', outcome: 'won' } }], timeout: 'P1D' }]),
      { outcomes: [], acceptsOther: true },
    ],
    ['none declared, none waited for: anything', def([task()]), { outcomes: [], acceptsOther: true }],
    [
      'a trigger on an outcome',
      def([task()], [{ event: 'task.completed', where: { taskKey: 'call', outcome: 'escalate' }, steps: [{ type: 'stage', stage: 'b' }] }]),
      { outcomes: ['escalate'], acceptsOther: false },
    ],
  ])('%s', (_name, d, expected) => {
    expect(acceptedOutcomes(d, 'call')).toEqual(expected);
  });

  it("the insurance-event journey's needs-discovery task accepts its three outcomes and nothing else", () => {
    expect(acceptedOutcomes(loadBuiltIn('insurance-event'), 'needs-discovery')).toEqual({ outcomes: ['interested', 'not_now', 'closed'], acceptsOther: false });
  });
});
