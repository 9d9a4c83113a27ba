// Budgets and hostile input in the pure engine: bounded durations (schema, static validation, start params), one typed
// engine error for whatever a definition, params or an event can make go wrong, own-property lookups, loops that cannot
// spin, and the engine's rule for the order of due timers and queued inputs. No Temporal, no database.
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput, ParamsError, resolveParams } from '../engine/definition.js';
import { addDuration, checkDuration, DEFAULT_DURATION_LIMITS, type DurationKind } from '../engine/duration.js';
import { advance, EngineError, fail, type JourneyEvent, type JourneyState, matches, nextInput, type QueuedInput, readField, start } from '../engine/engine.js';
import { simulate } from '../engine/simulate.js';
import { type ValidationContext, validateDefinition } from '../engine/validate.js';
import { loadBuiltIn } from '../journeys/index.js';

const T0 = '2026-03-02T01:00:00.000Z';
const loan = loadBuiltIn('bank-loan');

const base = (over: Partial<JourneyDefinitionInput>): JourneyDefinitionInput => ({
  key: 'test',
  version: 1,
  name: 'Test',
  stages: [
    { key: 'one', label: 'One' },
    { key: 'two', label: 'Two' },
  ],
  initialStage: 'one',
  ...over,
});
const journey = (over: Partial<JourneyDefinitionInput>): JourneyDefinition => JourneyDefinition.parse(base(over));
const schemaIssues = (over: Partial<JourneyDefinitionInput>) => {
  const r = JourneyDefinition.safeParse(base(over));
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};
const event = (type: string, data: Record<string, unknown> = {}, eventId = `${type}-${Math.random()}`): JourneyEvent => ({ eventId, type, occurredAt: T0, data });
const opts = { instanceId: 'i1', customerId: 'c1', params: {} };
const ctx: ValidationContext = { hasTemplate: () => true, knownEvents: new Set(['product.viewed', 'loan.drawdown']) };

/** The error a call throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('duration limits', () => {
  it.each<[string, DurationKind, string | undefined]>([
    ['P10Y', 'any', undefined],
    ['P3653D', 'any', undefined], // ten calendar years from 2000 hold three leap days
    ['P3654D', 'any', 'P3654D is longer than the maximum duration P10Y'],
    ['P10YT1S', 'wait', 'P10YT1S is longer than the maximum duration P10Y'],
    ['P999999999Y', 'any', 'P999999999Y is longer than the maximum duration P10Y'],
    ['PT99999999999999999999S', 'wait', 'PT99999999999999999999S is longer than the maximum duration P10Y'],
    ['PT1S', 'wait', undefined],
    ['PT0S', 'wait', 'PT0S is shorter than the minimum PT1S for a delay or timeout'],
    ['PT0.5S', 'wait', 'PT0.5S is shorter than the minimum PT1S for a delay or timeout'],
    ['PT0S', 'due', "PT0S is shorter than the minimum PT1S for a task's due time"],
    ['PT0S', 'expiry', "PT0S is shorter than the minimum PT1S for a message's expiry"],
    ['PT0S', 'offset', undefined],
    ['soon', 'any', 'must be an ISO-8601 duration such as P3D or PT24H'],
  ])('checkDuration(%s, defaults, %s) → %s', (text, kind, want) => {
    expect(checkDuration(text, DEFAULT_DURATION_LIMITS, kind)).toBe(want);
  });

  it('a configured maximum moves the bound', () => {
    expect(checkDuration('P15Y', { ...DEFAULT_DURATION_LIMITS, max: 'P20Y' }, 'wait')).toBeUndefined();
    expect(checkDuration('P15Y', { ...DEFAULT_DURATION_LIMITS, max: 'P1Y' }, 'wait')).toBe('P15Y is longer than the maximum duration P1Y');
  });

  it.each([
    [
      'a P999999999Y delay',
      { triggers: [{ event: 'product.viewed', steps: [{ type: 'delay', duration: 'P999999999Y' }] }] },
      'triggers.0.steps.0.duration',
      'P999999999Y is longer than the maximum duration P100Y',
    ],
    [
      'a PT0S delay',
      { triggers: [{ event: 'product.viewed', steps: [{ type: 'delay', duration: 'PT0S' }] }] },
      'triggers.0.steps.0.duration',
      'PT0S is shorter than the minimum PT1S for a delay or timeout',
    ],
    [
      'a PT0S wait timeout',
      { triggers: [{ event: 'product.viewed', steps: [{ type: 'wait', for: [{ event: 'loan.drawdown' }], timeout: 'PT0S' }] }] },
      'triggers.0.steps.0.timeout',
      'PT0S is shorter than the minimum PT1S for a delay or timeout',
    ],
    [
      'a PT0S default of a parameter used as a delay',
      { params: { gap: { type: 'duration', default: 'PT0S' } }, triggers: [{ event: 'product.viewed', steps: [{ type: 'delay', duration: { param: 'gap' } }] }] },
      'params.gap.default',
      'PT0S is shorter than the minimum PT1S for a delay or timeout',
    ],
    [
      'a P999999999Y cooldown',
      { entry: { reentry: { mode: 'cooldown', cooldown: 'P999999999Y' } } },
      'entry.reentry.cooldown',
      'P999999999Y is longer than the maximum duration P100Y',
    ],
  ] as const)('the schema refuses %s, naming its path', (_name, over, path, message) => {
    expect(schemaIssues(over as unknown as Partial<JourneyDefinitionInput>)).toEqual([{ path, message }]);
  });

  it('static validation refuses a duration over the configured maximum (P20Y against the default P10Y), and a larger maximum allows it', () => {
    const def = journey({ stages: [{ key: 'one', label: 'One' }], triggers: [{ event: 'product.viewed', steps: [{ type: 'delay', duration: 'P20Y' }] }] });
    expect(validateDefinition(def, ctx)).toEqual([{ path: 'triggers[0].steps[0].duration', message: 'P20Y is longer than the maximum duration P10Y' }]);
    expect(validateDefinition(def, { ...ctx, durationLimits: { ...DEFAULT_DURATION_LIMITS, max: 'P30Y' } })).toEqual([]);
  });
});

describe('params at start', () => {
  const problems = (overrides: Record<string, unknown>, def: JourneyDefinition = loan) => {
    const err = thrown(() => resolveParams(def, overrides));
    expect(err).toBeInstanceOf(ParamsError);
    return (err as ParamsError).problems;
  };

  it.each<[string, Record<string, unknown>, { param: string; message: string }[]]>([
    [
      'a P999999999Y delay param',
      { applicationAssistAfter: 'P999999999Y' },
      [{ param: 'applicationAssistAfter', message: 'P999999999Y is longer than the maximum duration P10Y' }],
    ],
    [
      'a PT0S param used as a wait timeout',
      { comparisonNudgeAfter: 'PT0S' },
      [{ param: 'comparisonNudgeAfter', message: 'PT0S is shorter than the minimum PT1S for a delay or timeout' }],
    ],
    ['a PT0S param used as a task due time', { taskDueIn: 'PT0S' }, [{ param: 'taskDueIn', message: "PT0S is shorter than the minimum PT1S for a task's due time" }]],
    ['"constructor", which only the prototype has', { constructor: 1 }, [{ param: 'constructor', message: 'unknown parameter for journey "bank-loan"' }]],
    ['"toString", which only the prototype has', { toString: 'PT1S' }, [{ param: 'toString', message: 'unknown parameter for journey "bank-loan"' }]],
    [
      '"__proto__" from a JSON body',
      JSON.parse('{"__proto__": {"taskDueIn": "P1D"}}') as Record<string, unknown>,
      [{ param: '__proto__', message: 'unknown parameter for journey "bank-loan"' }],
    ],
    ['a number that is not finite', { loyalScore: Infinity }, [{ param: 'loyalScore', message: 'must be a number' }]],
  ])('refuses %s', (_name, overrides, want) => {
    const def = 'loyalScore' in overrides ? loadBuiltIn('lifecycle') : loan;
    expect(problems(overrides, def)).toEqual(want);
  });

  it('accepts PT0S for a parameter used only as an offset, and P10Y for a delay', () => {
    expect(resolveParams(loan, { repaymentReminderBefore: 'PT0S', applicationAssistAfter: 'P10Y' })).toMatchObject({
      repaymentReminderBefore: 'PT0S',
      applicationAssistAfter: 'P10Y',
    });
  });

  it('checks against configured limits', () => {
    expect(resolveParams(loan, { applicationAssistAfter: 'P15Y' }, { ...DEFAULT_DURATION_LIMITS, max: 'P20Y' })).toMatchObject({ applicationAssistAfter: 'P15Y' });
  });
});

describe('own-property lookups', () => {
  it.each<[string, unknown, string, unknown]>([
    ['businessKeyField "constructor" on {} reads undefined, not Object', {}, 'constructor', undefined],
    ['a nested prototype name reads undefined', { a: {} }, 'a.hasOwnProperty', undefined],
    ['"__proto__" reads undefined', {}, '__proto__', undefined],
    ['an own "constructor" field is read', { constructor: 'acme' }, 'constructor', 'acme'],
    ['an own nested field is read', { a: { b: 2 } }, 'a.b', 2],
  ])('readField: %s', (_name, data, path, want) => {
    expect(readField(data, path)).toBe(want);
  });

  it('a filter {constructor: null} ("absent") matches data without that field', () => {
    expect(matches({ constructor: null }, {})).toBe(true);
    expect(matches({ constructor: 'x' }, {})).toBe(false);
  });

  it('a trigger instanceField "constructor" does not make an instance from the prototype', () => {
    const def = journey({ triggers: [{ event: 'product.viewed', instanceField: 'constructor', steps: [{ type: 'delay', duration: 'P1D' }] }] });
    const r = advance(def, start(def, opts, new Date(T0)).state, { type: 'event', event: event('product.viewed') }, new Date(T0));
    expect(r.state.flows.map((f) => f.instance)).toEqual([undefined]);
  });

  it('a split keyed "constructor" assigns a variant instead of reading the prototype', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            {
              type: 'split',
              key: 'constructor',
              variants: [
                { name: 'a', weight: 1 },
                { name: 'b', weight: 1 },
              ],
            },
          ],
        },
      ],
    });
    const r = advance(def, start(def, opts, new Date(T0)).state, { type: 'event', event: event('product.viewed') }, new Date(T0));
    expect(Object.hasOwn(r.state.variants!, 'constructor')).toBe(true);
    expect(r.commands.filter((c) => c.type === 'record').map((c) => c.kind)).toEqual(['split']);
  });

  it('static validation refuses a template reading params.constructor', () => {
    const def = journey({ stages: [{ key: 'one', label: 'One' }], triggers: [{ event: 'product.viewed', steps: [{ type: 'send', channel: 'email', template: 't' }] }] });
    const problems = validateDefinition(def, { ...ctx, templateVariables: () => [['params', 'constructor']], eventFields: () => [] });
    expect(problems).toEqual([{ path: 'triggers[0].steps[0]', message: 'template "t" uses params.constructor, which is not a parameter of "test"' }]);
  });
});

describe('loops that cannot spin', () => {
  const loopProblem = (path: string) => ({ path, message: 'loop without a wait: "goto top" can come round again without waiting' });

  it('refuses a delay PT0S → goto loop (a definition built past the schema): the delay is too short and the loop spins', () => {
    const def = journey({
      stages: [{ key: 'one', label: 'One' }],
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            { id: 'top', type: 'delay', duration: 'PT1S' },
            { type: 'goto', target: 'top' },
          ],
        },
      ],
    });
    expect(validateDefinition(def, ctx)).toEqual([]);
    (def.triggers[0]!.steps[0] as { duration: string }).duration = 'PT0S';
    expect(validateDefinition(def, ctx)).toEqual([
      { path: 'triggers[0].steps[0].duration', message: 'PT0S is shorter than the minimum PT1S for a delay or timeout' },
      loopProblem('triggers[0].steps[1]'),
    ]);
  });

  it('refuses a loop whose only wait is a delayUntil that runs at once when its instant has passed', () => {
    const def = journey({
      stages: [{ key: 'one', label: 'One' }],
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            { id: 'top', type: 'delayUntil', eventField: 'at' },
            { type: 'goto', target: 'top' },
          ],
        },
      ],
    });
    expect(validateDefinition(def, ctx)).toEqual([loopProblem('triggers[0].steps[1]')]);
    // ...which would spin at run time on an instant in the past.
    const state = start(def, opts, new Date(T0)).state;
    expect((thrown(() => advance(def, state, { type: 'event', event: event('product.viewed', { at: '2020-01-01T00:00:00Z' }) }, new Date(T0))) as EngineError).code).toBe(
      'step_budget',
    );
  });

  it('accepts a loop through a delayUntil that skips a past instant', () => {
    const def = journey({
      stages: [{ key: 'one', label: 'One' }],
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            { id: 'top', type: 'delayUntil', eventField: 'at', ifPast: 'skip' },
            { type: 'goto', target: 'top' },
          ],
        },
      ],
    });
    expect(validateDefinition(def, ctx)).toEqual([]);
  });
});

describe('engine errors are EngineErrors, with a code and the step', () => {
  const poison = (steps: unknown[]) => journey({ triggers: [{ event: 'product.viewed', flow: 'f', steps: steps as never }] });
  const failAt = (def: JourneyDefinition, data: Record<string, unknown> = {}) => {
    const state = start(def, opts, new Date(T0)).state;
    return thrown(() => advance(def, state, { type: 'event', event: event('product.viewed', data) }, new Date(T0)));
  };

  it.each<[string, unknown[], Record<string, unknown>, string, { flow: string; pc: number; path: string }, string]>([
    [
      "an anchor plus an offset past the calendar's end (was a RangeError)",
      [{ type: 'delayUntil', eventField: 'at', after: 'P1D' }],
      { at: 8.64e15 },
      'bad_time',
      { flow: 'f', pc: 0, path: 'triggers[0].steps[0]' },
      '+275760-09-13T00:00:00.000Z plus P1D is not a representable time (at triggers[0].steps[0])',
    ],
    [
      'a goto whose target is missing',
      [
        { type: 'goal', key: 'x' },
        { type: 'goto', target: 'nowhere' },
      ],
      {},
      'unknown_goto_target',
      { flow: 'f', pc: 1, path: 'triggers[0].steps[1]' },
      'goto target "nowhere" does not exist (at triggers[0].steps[1])',
    ],
    [
      'a loop that never waits',
      [
        { id: 'spin', type: 'goal', key: 'x' },
        { type: 'goto', target: 'spin' },
      ],
      {},
      'step_budget',
      { flow: 'f', pc: 0, path: 'triggers[0].steps[0]' },
      'journey "test" ran 10000 steps without waiting (at triggers[0].steps[0])',
    ],
  ])('%s', (_name, steps, data, code, step, message) => {
    const err = failAt(poison(steps), data);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code, step, message });
  });

  it("a delay computed past the calendar's end is a bad_time EngineError, not a RangeError", () => {
    const err = thrown(() => addDuration(new Date(8.64e15), 'PT1S'));
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'bad_time' });
  });

  it('a step budget can be set per call', () => {
    const def = poison([
      { id: 'spin', type: 'goal', key: 'x' },
      { type: 'goto', target: 'spin' },
    ]);
    const state = start(def, opts, new Date(T0)).state;
    expect(thrown(() => advance(def, state, { type: 'event', event: event('product.viewed') }, new Date(T0), { stepBudget: 50 }))).toMatchObject({
      code: 'step_budget',
      message: expect.stringContaining('ran 50 steps'),
    });
  });

  it("start fails with an EngineError when the initial stage's steps do", () => {
    const def = journey({ stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'goto', target: 'nowhere' }] }] });
    expect(thrown(() => start(def, opts, new Date(T0)))).toMatchObject({ code: 'unknown_goto_target', step: { flow: 'stage:one', path: 'stages[0].onEnter[0]' } });
  });

  it('a simulation that wakes too often for its input budget stops with step_budget', () => {
    const def = poison([
      { id: 'top', type: 'delay', duration: 'PT1S' },
      { type: 'goto', target: 'top' },
    ]);
    const err = thrown(() =>
      simulate(def, {
        customerId: 'c',
        params: {},
        start: T0,
        until: '2036-01-01T00:00:00Z',
        inputs: [{ at: T0, input: { type: 'event', event: event('product.viewed') } }],
        maxInputs: 1000,
      }),
    );
    expect(err).toMatchObject({ code: 'step_budget' });
  });

  it('fail() ends the journey as failed with the reason and a failure log entry naming the code and the step', () => {
    const def = poison([{ type: 'goto', target: 'nowhere' }]);
    const state = start(def, opts, new Date(T0)).state;
    const err = failAt(def) as EngineError;
    const r = fail(state, err, new Date(T0));
    expect(r.state).toMatchObject({ status: 'failed', endReason: 'unknown_goto_target: goto target "nowhere" does not exist (at triggers[0].steps[0])', endedAt: T0, flows: [] });
    expect(r.commands).toEqual([
      {
        type: 'record',
        idempotencyKey: 'i1/1',
        kind: 'failure',
        at: T0,
        data: { code: 'unknown_goto_target', message: err.message, step: { flow: 'f', pc: 0, path: 'triggers[0].steps[0]' } },
      },
      { type: 'ended', status: 'failed', reason: r.state.endReason, at: T0 },
    ]);
    // A failed journey takes no more input.
    expect(advance(def, r.state, { type: 'event', event: event('product.viewed') }, new Date(T0)).commands).toEqual([]);
  });
});

describe('the engine decides the order of due timers and queued inputs', () => {
  const def = journey({ triggers: [{ event: 'product.viewed', steps: [{ type: 'delay', duration: 'PT10S' }] }] });
  const waiting: JourneyState = advance(def, start(def, opts, new Date(T0)).state, { type: 'event', event: event('product.viewed') }, new Date(T0)).state;
  const due = '2026-03-02T01:00:10.000Z'; // the delay's instant
  const s = (n: number) => new Date(Date.parse(T0) + n * 1000).toISOString();
  const q = (...arrivals: number[]): QueuedInput[] => arrivals.map((n) => ({ input: { type: 'event', event: event('loan.drawdown') }, arrivedAt: s(n) }));

  it.each<[string, QueuedInput[], string | undefined, ReturnType<typeof nextInput>]>([
    ['nothing queued, the timer not yet due: nothing', [], s(5), undefined],
    ['nothing queued, the timer due: the timer', [], s(12), { kind: 'timer', at: due }],
    ['an input that arrived after the timer fell due: the timer first', q(11), s(12), { kind: 'timer', at: due }],
    ['an input that arrived at the instant the timer fell due: the timer first', q(10), s(12), { kind: 'timer', at: due }],
    ['an input that arrived before the timer fell due: the input first', q(9), s(12), { kind: 'queued', index: 0 }],
    ['inputs queued out of order: the earliest arrival', q(11, 3, 3), s(12), { kind: 'queued', index: 1 }],
    ['no clock (a simulation): the next timer, however far', [], undefined, { kind: 'timer', at: due }],
  ])('%s', (_name, queue, now, want) => {
    expect(nextInput(waiting, queue, now)).toEqual(want);
  });

  it('the simulator follows it: a timeout due before a purchase fires first (the nudge goes out, then the thanks)', () => {
    const life = loadBuiltIn('lifecycle');
    const params = resolveParams(life, { considerationNudgeAfter: 'PT2S' });
    const r = simulate(life, {
      customerId: 'c1',
      params,
      start: T0,
      until: s(60),
      inputs: [
        { at: T0, input: { type: 'event', event: event('product.viewed') } },
        { at: s(3), input: { type: 'event', event: event('product.purchased') } },
      ],
    });
    const labels = r.timeline
      .map((t) => (t.command.type === 'send' ? `${t.at} send ${t.command.template}` : t.command.type === 'record' ? `${t.at} ${t.command.kind}` : undefined))
      .filter(Boolean);
    expect(labels).toEqual([`${s(2)} split`, `${s(2)} send lifecycle-consideration`, `${s(3)} goal`, `${s(3)} send lifecycle-thanks`]);
  });
});
