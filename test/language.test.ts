// The journey language node by node, in the pure engine; the expression language; local times; static validation
// with its exact messages. No Temporal, no database.
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput, resolveParams } from '../engine/definition.js';
import { addDuration } from '../engine/duration.js';
import { type Command, type Profile } from '../engine/engine.js';
import { evaluate, parseExpr } from '../engine/expr.js';
import { simulate, type ScriptedInput } from '../engine/simulate.js';
import { nextLocalTime } from '../engine/tz.js';
import { type ValidationContext, validateDefinition } from '../engine/validate.js';
import { BUILT_IN_KEYS, eventCatalog, loadBuiltIn } from '../journeys/index.js';
import { TemplateStore } from '../channels/templates.js';

const T0 = '2026-03-02T01:00:00.000Z'; // a Monday, 09:00 in Shanghai
const at = (d: string, from = T0) => addDuration(new Date(from), d).toISOString();

function journey(over: Partial<JourneyDefinitionInput>): JourneyDefinition {
  return JourneyDefinition.parse({
    key: 'test',
    version: 1,
    name: 'Test',
    stages: [
      { key: 'one', label: 'One' },
      { key: 'two', label: 'Two' },
      { key: 'three', label: 'Three' },
    ],
    initialStage: 'one',
    ...over,
  });
}

let n = 0;
const ev = (when: string, type: string, data: Record<string, unknown> = {}): ScriptedInput => ({
  at: when,
  input: { type: 'event', event: { eventId: `e${++n}`, type, occurredAt: when, data } },
});

const line = (c: Command): string => {
  switch (c.type) {
    case 'send':
      return `send ${c.channel} ${c.template}`;
    case 'createTask':
      return `task ${c.taskKey}`;
    case 'stageChanged':
      return `stage ${c.to}`;
    case 'ended':
      return `end ${c.status} ${c.reason}`;
    case 'record':
      return `${c.kind} ${JSON.stringify(c.data)}`;
    case 'escalateTask':
      return `escalate ${c.to}`;
    case 'startJourney':
      return `start ${c.journeyKey}`;
    case 'signalJourney':
      return `signal ${c.journeyKey} ${c.event.type}`;
    case 'stopJourneys':
      return `stop ${c.journeyKey ?? ''}${c.tag ?? ''} ${c.reason}`;
  }
};

function run(def: JourneyDefinition, inputs: ScriptedInput[], opts: { until?: string; profile?: Profile; customerId?: string; params?: Record<string, unknown> } = {}) {
  const r = simulate(def, {
    customerId: opts.customerId ?? 'c1',
    params: resolveParams(def, opts.params ?? {}),
    start: T0,
    until: opts.until ?? at('P400D'),
    inputs,
    ...(opts.profile ? { profile: opts.profile } : {}),
  });
  return { ...r, lines: r.timeline.map((t) => `${t.at} ${line(t.command)}`) };
}

describe('node kinds', () => {
  it('wait: each outcome its own branch, filtered on event data, or the timeout branch', () => {
    const def = journey({
      triggers: [
        {
          event: 'loan.approved',
          steps: [
            {
              type: 'wait',
              for: [
                { event: 'loan.drawdown', where: { big: true }, then: [{ type: 'send', channel: 'email', template: 'big' }] },
                { event: 'loan.drawdown', then: [{ type: 'send', channel: 'email', template: 'small' }] },
              ],
              timeout: 'P1D',
              onTimeout: [{ type: 'send', channel: 'sms', template: 'late' }],
            },
            { type: 'send', channel: 'email', template: 'after' },
          ],
        },
      ],
    });
    expect(run(def, [ev(T0, 'loan.approved'), ev(at('PT1H'), 'loan.drawdown', { big: true })]).lines.slice(1)).toEqual([
      `${at('PT1H')} send email big`,
      `${at('PT1H')} send email after`,
    ]);
    expect(run(def, [ev(T0, 'loan.approved'), ev(at('PT1H'), 'loan.drawdown', { big: false })]).lines.slice(1)).toEqual([
      `${at('PT1H')} send email small`,
      `${at('PT1H')} send email after`,
    ]);
    expect(run(def, [ev(T0, 'loan.approved')]).lines.slice(1)).toEqual([`${at('P1D')} send sms late`, `${at('P1D')} send email after`]);
  });

  it.each([
    ['a duration', { type: 'delay', duration: 'PT90M' }, {}, {}, at('PT90M')],
    ['a duration from a param', { type: 'delay', duration: { param: 'wait' } }, {}, {}, at('P2D')],
    ['an event timestamp minus an offset', { type: 'delayUntil', eventField: 'dueAt', before: 'P3D' }, { dueAt: '2026-04-01T00:00:00Z' }, {}, '2026-03-29T00:00:00.000Z'],
    ['an event timestamp plus an offset', { type: 'delayUntil', eventField: 'dueAt', after: 'PT12H' }, { dueAt: '2026-04-01T00:00:00Z' }, {}, '2026-04-01T12:00:00.000Z'],
    ['a profile date', { type: 'delayUntil', profileField: 'birthday', before: 'P1D' }, {}, { attributes: { birthday: '2026-06-10T00:00:00Z' } }, '2026-06-09T00:00:00.000Z'],
    ["the next 10:00 in the customer's zone", { type: 'delayUntilLocalTime', time: '10:00' }, {}, { timeZone: 'Asia/Shanghai' }, '2026-03-02T02:00:00.000Z'],
    ["the next 08:00 in the customer's zone (tomorrow)", { type: 'delayUntilLocalTime', time: '08:00' }, {}, { timeZone: 'Asia/Shanghai' }, '2026-03-03T00:00:00.000Z'],
    ['a fixed zone', { type: 'delayUntilLocalTime', time: '09:00', timeZone: 'America/New_York' }, {}, { timeZone: 'Asia/Shanghai' }, '2026-03-02T14:00:00.000Z'],
    ['an unknown customer zone falls back to UTC', { type: 'delayUntilLocalTime', time: '09:00' }, {}, { timeZone: 'Mars/Base' }, '2026-03-02T09:00:00.000Z'],
  ] as const)('delay until %s', (_name, step, data, profile, when) => {
    const def = journey({
      params: { wait: { type: 'duration', default: 'P2D' } },
      triggers: [{ event: 'loan.approved', steps: [step as never, { type: 'send', channel: 'sms', template: 'x' }] }],
    });
    const r = run(def, [ev(T0, 'loan.approved', data)], { profile: profile as Profile });
    expect(r.lines.at(-1)).toBe(`${when} send sms x`);
  });

  it('delayUntil skips or runs when the instant has passed, as told', () => {
    const mk = (ifPast: 'run' | 'skip' | 'runIfAnchorAhead') =>
      journey({
        triggers: [
          {
            event: 'loan.approved',
            steps: [
              { type: 'delayUntil', eventField: 'dueAt', before: 'P3D', ifPast },
              { type: 'send', channel: 'sms', template: 'x' },
            ],
          },
        ],
      });
    const soon = { dueAt: at('P1D') };
    const gone = { dueAt: '2026-03-01T00:00:00Z' };
    expect(run(mk('run'), [ev(T0, 'loan.approved', gone)]).lines).toHaveLength(2);
    expect(run(mk('skip'), [ev(T0, 'loan.approved', soon)]).lines).toHaveLength(1);
    expect(run(mk('runIfAnchorAhead'), [ev(T0, 'loan.approved', soon)]).lines).toHaveLength(2);
    expect(run(mk('runIfAnchorAhead'), [ev(T0, 'loan.approved', gone)]).lines).toHaveLength(1);
  });

  it('branch: the first case that holds, else otherwise, over profile, event and journey state', () => {
    const def = journey({
      triggers: [
        {
          event: 'fund.subscribed',
          steps: [
            {
              type: 'branch',
              cases: [
                { when: 'profile.segment == "hnw" && event.amount >= 100000', steps: [{ type: 'task', key: 'vip', title: 'VIP', due: 'P1D' }] },
                { when: 'journey.stage in ["two", "three"]', steps: [{ type: 'send', channel: 'email', template: 'later-stage' }] },
              ],
              otherwise: [{ type: 'send', channel: 'sms', template: 'default' }],
            },
          ],
        },
      ],
    });
    const last = (data: Record<string, unknown>, profile: Profile, extra: ScriptedInput[] = []) =>
      run(def, [...extra, ev(at('PT1M'), 'fund.subscribed', data)], { profile })
        .lines.at(-1)!
        .split(' ')
        .slice(1)
        .join(' ');
    expect(last({ amount: 200000 }, { segment: 'hnw' })).toBe('task vip');
    expect(last({ amount: 5000 }, { segment: 'hnw' })).toBe('send sms default');
    const toTwo = journey({ ...def, triggers: [...def.triggers, { event: 'loan.stage_changed', steps: [{ type: 'stage', stageFromEvent: 'stage' }] }] } as never);
    expect(run(toTwo, [ev(T0, 'loan.stage_changed', { stage: 'two' }), ev(at('PT1M'), 'fund.subscribed', { amount: 1 })]).lines.at(-1)).toBe(
      `${at('PT1M')} send email later-stage`,
    );
  });

  it('split: weighted, deterministic per customer and journey, recorded once, sticky', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            {
              type: 'split',
              key: 'ab',
              variants: [
                { name: 'a', weight: 70, steps: [{ type: 'send', channel: 'email', template: 'a' }] },
                { name: 'b', weight: 30, steps: [{ type: 'send', channel: 'sms', template: 'b' }] },
              ],
            },
          ],
        },
      ],
    });
    const variantOf = (customerId: string) => run(def, [ev(T0, 'product.viewed'), ev(at('P1D'), 'product.viewed')], { customerId }).state.variants!.ab;
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 2000; i++) counts[variantOf(`cust-${i}`) as 'a' | 'b']++;
    expect(counts.a / 2000).toBeGreaterThan(0.66);
    expect(counts.a / 2000).toBeLessThan(0.74);
    expect(variantOf('cust-7')).toBe(variantOf('cust-7'));
    const r = run(def, [ev(T0, 'product.viewed'), ev(at('P1D'), 'product.viewed')], { customerId: 'cust-7' });
    expect(r.lines.filter((l) => l.includes('split'))).toHaveLength(1);
    expect(r.lines.filter((l) => l.includes('send'))).toHaveLength(2);
  });

  it('task: outcome branches, escalation to a second assignee when still open at its due time', () => {
    const def = journey({
      triggers: [
        {
          event: 'fund.dca_paused',
          steps: [
            {
              type: 'task',
              key: 'call',
              title: 'Call',
              due: 'P1D',
              escalateTo: 'rm-lead',
              outcomes: {
                interested: [{ type: 'stage', stage: 'two' }],
                closed: [{ type: 'exit', reason: 'closed' }],
                default: [{ type: 'send', channel: 'email', template: 'other' }],
              },
            },
            { type: 'send', channel: 'sms', template: 'after-task' },
          ],
        },
      ],
    });
    const done = (outcome: string, when: string) => ev(when, 'task.completed', { taskKey: 'call', outcome });
    expect(run(def, [ev(T0, 'fund.dca_paused'), done('interested', at('PT2H'))]).lines.slice(1)).toEqual([
      `${T0} task call`,
      `${at('PT2H')} task_outcome {"taskKey":"call","outcome":"interested"}`,
      `${at('PT2H')} stage two`,
      `${at('PT2H')} send sms after-task`,
    ]);
    expect(run(def, [ev(T0, 'fund.dca_paused'), done('closed', at('P2D'))]).lines.slice(1)).toEqual([
      `${T0} task call`,
      `${at('P1D')} escalate rm-lead`,
      `${at('P2D')} task_outcome {"taskKey":"call","outcome":"closed"}`,
      `${at('P2D')} end exited closed`,
    ]);
    expect(run(def, [ev(T0, 'fund.dca_paused'), done('maybe', at('PT1H'))]).lines.at(-2)).toBe(`${at('PT1H')} send email other`);
  });

  it('feedback: asks on a channel, records the answer, branches on it, or times out', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.purchased',
          steps: [
            {
              type: 'feedback',
              survey: 'nps',
              channel: 'sms',
              template: 'nps',
              timeout: 'P3D',
              onAnswer: [{ type: 'branch', cases: [{ when: 'event.score >= 9', steps: [{ type: 'goal', key: 'promoter' }] }] }],
              onTimeout: [{ type: 'send', channel: 'email', template: 'no-answer' }],
            },
          ],
        },
      ],
      goals: [{ key: 'promoter' }],
    });
    expect(run(def, [ev(T0, 'product.purchased'), ev(at('P1D'), 'feedback.answered', { survey: 'nps', score: 10 })]).lines.slice(1)).toEqual([
      `${T0} send sms nps`,
      `${at('P1D')} feedback {"survey":"nps","template":"nps","score":10}`,
      `${at('P1D')} goal {"goal":"promoter"}`,
    ]);
    expect(run(def, [ev(T0, 'product.purchased'), ev(at('P1D'), 'feedback.answered', { survey: 'csat', score: 5 })]).lines.at(-1)).toBe(`${at('P3D')} send email no-answer`);
  });

  it('goals: a goal step records without ending; a goal event ends the journey completed', () => {
    const def = journey({
      goals: [{ key: 'first' }, { key: 'done', event: 'customer.referred', reason: 'advocate' }],
      triggers: [
        {
          event: 'product.purchased',
          steps: [
            { type: 'goal', key: 'first' },
            { type: 'goal', key: 'first' },
          ],
        },
      ],
    });
    const r = run(def, [ev(T0, 'product.purchased'), ev(at('P1D'), 'customer.referred')]);
    expect(r.lines.slice(1)).toEqual([`${T0} goal {"goal":"first"}`, `${at('P1D')} goal {"goal":"done"}`, `${at('P1D')} end completed advocate`]);
    expect(r.state.goals).toEqual(['first', 'done']);
  });

  it('exit criteria apply wherever the journey is, before any trigger', () => {
    const def = journey({
      exits: [{ event: 'loan.rejected', reason: 'rejected' }],
      triggers: [{ event: 'loan.rejected', steps: [{ type: 'send', channel: 'email', template: 'never' }] }],
    });
    expect(run(def, [ev(T0, 'loan.rejected')]).lines.slice(1)).toEqual([`${T0} end exited rejected`]);
  });

  it('chorus: start, signal and stop other journeys', () => {
    const def = journey({
      triggers: [
        {
          event: 'loan.renewed',
          steps: [
            { type: 'startJourney', journeyKey: 'fund-dca' },
            { type: 'signalJourney', journeyKey: 'fund-dca', event: 'fund.news_clicked', passEventData: true },
            { type: 'stopJourneys', tag: 'marketing', reason: 'done' },
          ],
        },
      ],
    });
    const r = run(def, [ev(T0, 'loan.renewed', { x: 1 })]);
    expect(r.lines.slice(1)).toEqual([`${T0} start fund-dca`, `${T0} signal fund-dca fund.news_clicked`, `${T0} stop marketing done`]);
    const signal = r.timeline.find((t) => t.command.type === 'signalJourney')!.command;
    expect(signal).toMatchObject({ event: { type: 'fund.news_clicked', data: { x: 1 } } });
  });

  it('goto: loops back to a step id, each round waiting', () => {
    const def = journey({
      triggers: [
        {
          event: 'fund.dca_plan_created',
          steps: [
            { id: 'again', type: 'delay', duration: 'P30D' },
            { type: 'send', channel: 'email', template: 'report' },
            { type: 'goto', target: 'again' },
          ],
        },
      ],
    });
    const r = run(def, [ev(T0, 'fund.dca_plan_created')], { until: at('P95D') });
    expect(r.lines.slice(1)).toEqual([`${at('P30D')} send email report`, `${at('P60D')} send email report`, `${at('P90D')} send email report`]);
  });

  it('stops a loop with no wait at run time too (a definition that skipped validation)', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            { id: 'spin', type: 'goal', key: 'x' },
            { type: 'goto', target: 'spin' },
          ],
        },
      ],
    });
    expect(() => run(def, [ev(T0, 'product.viewed')])).toThrow('ran 10000 steps without waiting');
  });

  it('stage-scoped flows stop when the stage is left; journey-scoped ones go on', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.viewed',
          scope: 'stage',
          steps: [
            { type: 'delay', duration: 'P1D' },
            { type: 'send', channel: 'sms', template: 'stage-scoped' },
          ],
        },
        {
          event: 'product.viewed',
          steps: [
            { type: 'delay', duration: 'P1D' },
            { type: 'send', channel: 'sms', template: 'journey-scoped' },
          ],
        },
        { event: 'loan.stage_changed', steps: [{ type: 'stage', stageFromEvent: 'stage' }] },
      ],
    });
    expect(run(def, [ev(T0, 'product.viewed'), ev(at('PT1H'), 'loan.stage_changed', { stage: 'two' })]).lines.filter((l) => l.includes('send'))).toEqual([
      `${at('P1D')} send sms journey-scoped`,
    ]);
  });

  it('a profile update changes later branches', () => {
    const def = journey({
      triggers: [
        {
          event: 'product.viewed',
          steps: [
            {
              type: 'branch',
              cases: [{ when: 'profile.segment == "hnw"', steps: [{ type: 'send', channel: 'email', template: 'hnw' }] }],
              otherwise: [{ type: 'send', channel: 'email', template: 'mass' }],
            },
          ],
        },
      ],
    });
    const r = simulate(def, {
      customerId: 'c',
      params: {},
      profile: { segment: 'young' },
      start: T0,
      until: at('P1D'),
      inputs: [ev(T0, 'product.viewed'), { at: at('PT1H'), input: { type: 'profile', profile: { segment: 'hnw' } } }, ev(at('PT2H'), 'product.viewed')],
    });
    expect(r.timeline.filter((t) => t.command.type === 'send').map((t) => (t.command as { template: string }).template)).toEqual(['mass', 'hnw']);
  });
});

describe('expressions', () => {
  const scope = { event: { amount: 120, tags: ['a'], when: '2026-01-02' }, profile: { segment: 'hnw' }, params: { min: 100 }, journey: { stage: 'two', goals: ['x'] } };
  it.each([
    ['event.amount >= params.min', true],
    ['event.amount > 500 || profile.segment == "hnw"', true],
    ['!(event.amount > 100)', false],
    ['"x" in journey.goals', true],
    ['journey.stage in ["one", "three"]', false],
    ['exists(event.missing)', false],
    ['event.missing == null', true],
    ['event.when < "2026-02-01"', true],
    ['event.amount < "200"', false],
    ['-event.amount < 0 && true', true],
  ])('%s → %s', (src, want) => expect(evaluate(parseExpr(src), scope)).toBe(want));

  it.each([
    ['event.amount >', 'unexpected end of expression'],
    ['customer.email == "x"', 'unknown name "customer": paths start with event, profile, params, journey'],
    ['process.exit()', 'unknown name "process"'],
    ['event.a = 1', 'unexpected "=" at 8'],
    ['"open', 'unterminated string at 0'],
  ])('refuses %s', (src, message) => expect(() => parseExpr(src)).toThrow(message));
});

describe('local times across time zones and DST', () => {
  it.each([
    ['2026-03-07T20:00:00Z', '02:30', 'America/New_York', '2026-03-08T07:30:00.000Z'], // 02:30 does not exist that night
    ['2026-03-08T12:00:00Z', '09:00', 'America/New_York', '2026-03-08T13:00:00.000Z'], // after the change: UTC-4
    ['2026-03-07T15:00:00Z', '09:00', 'America/New_York', '2026-03-08T13:00:00.000Z'], // across the change: EST today, EDT tomorrow
    ['2026-11-01T03:00:00Z', '01:30', 'America/New_York', '2026-11-01T05:30:00.000Z'], // ambiguous: the first one
    ['2026-03-01T09:00:00Z', '10:00', 'Asia/Shanghai', '2026-03-02T02:00:00.000Z'],
    ['2026-03-01T01:00:00Z', '10:00', 'Asia/Shanghai', '2026-03-01T02:00:00.000Z'],
  ])('after %s, the next %s in %s is %s', (now, time, tz, want) => expect(nextLocalTime(new Date(now), time, tz).toISOString()).toBe(want));
});

describe('static validation', () => {
  const templates = TemplateStore.fromFiles();
  const ctx: ValidationContext = {
    hasTemplate: (k, c) => templates.has(k, c) || k === 'ok',
    knownEvents: new Set(Object.keys(eventCatalog())),
    journeyKeys: new Set(BUILT_IN_KEYS),
  };
  const problems = (over: Partial<JourneyDefinitionInput>) => validateDefinition(journey(over), ctx);
  const enterAll = [{ event: 'loan.stage_changed', steps: [{ type: 'stage' as const, stageFromEvent: 'stage' }] }];

  it.each([
    [
      'an unknown goto target',
      { triggers: [...enterAll, { event: 'loan.drawdown', steps: [{ type: 'goto', target: 'nowhere' }] }] },
      [{ path: 'triggers[1].steps[0]', message: 'goto target "nowhere" does not exist' }],
    ],
    [
      'a step id used twice',
      {
        triggers: [
          ...enterAll,
          {
            event: 'loan.drawdown',
            steps: [
              { id: 'a', type: 'delay', duration: 'P1D' },
              { id: 'a', type: 'delay', duration: 'P1D' },
            ],
          },
        ],
      },
      [{ path: 'triggers[1].steps[1]', message: 'step id "a" is used twice' }],
    ],
    [
      'steps after an exit',
      {
        triggers: [
          ...enterAll,
          {
            event: 'loan.drawdown',
            steps: [
              { type: 'exit', reason: 'x' },
              { type: 'send', channel: 'email', template: 'ok' },
            ],
          },
        ],
      },
      [{ path: 'triggers[1].steps[1]', message: 'unreachable: nothing after "exit" at triggers[1].steps[0] runs' }],
    ],
    [
      'a stage nothing enters',
      { triggers: [{ event: 'loan.drawdown', steps: [{ type: 'stage', stage: 'two' }] }] },
      [{ path: 'stages[2]', message: 'stage "three" is never entered' }],
    ],
    [
      'a loop without a wait',
      {
        triggers: [
          ...enterAll,
          {
            event: 'loan.drawdown',
            steps: [
              { id: 'top', type: 'send', channel: 'email', template: 'ok' },
              { type: 'branch', cases: [{ when: 'event.x == 1', steps: [{ type: 'goto', target: 'top' }] }] },
            ],
          },
        ],
      },
      [{ path: 'triggers[1].steps[1].cases[0].steps[0]', message: 'loop without a wait: "goto top" can come round again without waiting' }],
    ],
    [
      'a wait on an event nothing sends',
      { triggers: [...enterAll, { event: 'loan.drawdown', steps: [{ type: 'wait', for: [{ event: 'loan.teleported' }], timeout: 'P1D' }] }] },
      [{ path: 'triggers[1].steps[0].for[0].event', message: 'no system sends "loan.teleported"' }],
    ],
    [
      'a trigger on an event nothing sends',
      { triggers: [...enterAll, { event: 'crm.nothing', steps: [{ type: 'goal', key: 'x' }] }] },
      [{ path: 'triggers[1].event', message: 'no system sends "crm.nothing"' }],
    ],
    [
      'a template that does not exist',
      { triggers: [...enterAll, { event: 'loan.drawdown', steps: [{ type: 'send', channel: 'sms', template: 'loan-approved' }] }] },
      [{ path: 'triggers[1].steps[0]', message: 'template "loan-approved" does not exist for sms' }],
    ],
    [
      'a chorus step to an unknown journey',
      { triggers: [...enterAll, { event: 'loan.drawdown', steps: [{ type: 'startJourney', journeyKey: 'moon-loan' }] }] },
      [{ path: 'triggers[1].steps[0]', message: 'journey "moon-loan" does not exist' }],
    ],
  ] as const)('reports %s', (_name, over, want) => {
    expect(problems(over as unknown as Partial<JourneyDefinitionInput>)).toEqual(want);
  });

  it.each([
    [
      'an event field the trigger event does not carry',
      { triggers: [...enterAll, { event: 'loan.drawdown', steps: [{ type: 'send', channel: 'email', template: 'loan-approved' }] }] },
      ['template "loan-approved" uses event.limit, which "loan.drawdown" does not carry', 'template "loan-approved" uses event.expiresAt, which "loan.drawdown" does not carry'],
    ],
    [
      'an event field in a step that runs without an event',
      {
        stages: [
          { key: 'one', label: 'One', onEnter: [{ type: 'send', channel: 'sms', template: 'loan-repayment-reminder' }] },
          { key: 'two', label: 'Two' },
          { key: 'three', label: 'Three' },
        ],
        triggers: enterAll,
      },
      ['template "loan-repayment-reminder" uses event.dueAt, but this step runs without an event'],
    ],
    [
      'an event field after a wait that may time out',
      {
        triggers: [
          ...enterAll,
          {
            event: 'loan.drawdown',
            steps: [
              { type: 'wait', for: [{ event: 'loan.approved' }], timeout: 'P1D' },
              { type: 'send', channel: 'email', template: 'loan-approved' },
            ],
          },
        ],
      },
      ['template "loan-approved" uses event.limit, which "loan.drawdown" does not carry', 'template "loan-approved" uses event.expiresAt, which "loan.drawdown" does not carry'],
    ],
  ] as const)('refuses a template variable the send cannot give: %s', (_name, over, messages) => {
    const templates = TemplateStore.fromFiles();
    const full: ValidationContext = { ...ctx, templateVariables: (k, c) => templates.variables(k, c), eventFields: (t) => eventCatalog()[t]?.fields };
    expect(validateDefinition(journey(over as unknown as Partial<JourneyDefinitionInput>), full).map((p) => p.message)).toEqual(messages);
  });

  it('accepts the same template where its event carries the fields', () => {
    const templates = TemplateStore.fromFiles();
    const full: ValidationContext = { ...ctx, templateVariables: (k, c) => templates.variables(k, c), eventFields: (t) => eventCatalog()[t]?.fields };
    expect(
      validateDefinition(
        journey({
          triggers: [
            ...enterAll,
            {
              event: 'loan.drawdown',
              steps: [{ type: 'wait', for: [{ event: 'loan.approved', then: [{ type: 'send', channel: 'email', template: 'loan-approved' }] }], timeout: 'P1D' }],
            },
          ],
        }),
        full,
      ),
    ).toEqual([]);
  });

  it('accepts a loop that waits, and an event another step of the journey sends', () => {
    expect(
      problems({
        triggers: [
          ...enterAll,
          {
            event: 'loan.drawdown',
            steps: [
              { id: 'top', type: 'delay', duration: 'P1D' },
              { type: 'signalJourney', journeyKey: 'test', event: 'test.ping' },
              { type: 'goto', target: 'top' },
            ],
          },
          { event: 'test.ping', steps: [{ type: 'goal', key: 'pinged' }] },
        ],
      }),
    ).toEqual([]);
  });

  it.each([
    [
      'a bad duration',
      (d: any) => {
        d.triggers = [{ event: 'loan.drawdown', steps: [{ type: 'delay', duration: 'three days' }] }];
      },
      'triggers.0.steps.0.duration',
      'an ISO-8601 duration such as P3D or PT24H',
    ],
    [
      'a bad time zone',
      (d: any) => {
        d.triggers = [{ event: 'loan.drawdown', steps: [{ type: 'delayUntilLocalTime', time: '10:00', timeZone: 'Asia/Atlantis' }] }];
      },
      'triggers.0.steps.0.timeZone',
      'an IANA time zone like Asia/Shanghai',
    ],
    [
      'a bad time of day',
      (d: any) => {
        d.triggers = [{ event: 'loan.drawdown', steps: [{ type: 'delayUntilLocalTime', time: '25:00' }] }];
      },
      'triggers.0.steps.0.time',
      'a local time like 10:00',
    ],
    [
      'a bad expression',
      (d: any) => {
        d.triggers = [{ event: 'loan.drawdown', steps: [{ type: 'branch', cases: [{ when: 'event.x ==' }] }] }];
      },
      'triggers.0.steps.0.cases.0.when',
      'bad expression: unexpected end of expression',
    ],
    [
      'a split with one variant',
      (d: any) => {
        d.triggers = [{ event: 'loan.drawdown', steps: [{ type: 'split', key: 's', variants: [{ name: 'a', weight: 1 }] }] }];
      },
      'triggers.0.steps.0.variants',
      'Too small',
    ],
  ])('the schema refuses %s', (_name, mutate, path, message) => {
    const raw: any = { key: 'test', version: 1, name: 'T', stages: [{ key: 'one', label: 'One' }], initialStage: 'one' };
    mutate(raw);
    const r = JourneyDefinition.safeParse(raw);
    expect(r.success).toBe(false);
    const issue = r.error!.issues.find((i) => i.path.join('.') === path);
    expect(issue?.message).toContain(message);
  });

  it.each(BUILT_IN_KEYS)('the seed journey %s validates clean, its templates included', (key) => {
    const templates = TemplateStore.fromFiles();
    expect(validateDefinition(loadBuiltIn(key), { ...ctx, templateVariables: (k, c) => templates.variables(k, c), eventFields: (t) => eventCatalog()[t]?.fields })).toEqual([]);
  });

  it('renders Liquid in both locales, escaping HTML', () => {
    const templates = TemplateStore.fromFiles();
    const vars = { customer: { name: '<b>Li</b>', timeZone: 'Asia/Shanghai' }, event: { limit: 80000, expiresAt: '2027-11-30T00:00:00Z' }, params: {} };
    const zh = templates.render('loan-approved', 'email', 'zh-CN', vars);
    expect(zh.subject).toBe('贷款已获批：额度 ¥80,000.00');
    expect(zh.text).toContain('有效期至 2027年11月30日');
    const en = templates.render('loan-approved', 'email', 'en-GB', vars);
    expect(en.subject).toBe('Your loan is approved: limit CN¥80,000.00');
    expect(en.text).toContain('valid until 30 Nov 2027');
    expect(en.text).toContain('Dear <b>Li</b>,');
    expect(en.html).toContain('Dear &lt;b&gt;Li&lt;/b&gt;,');
    // A French customer reads the English fallback, with English dates and amounts in it.
    const fr = templates.render('loan-approved', 'email', 'fr', vars);
    expect(fr.subject).toBe('Your loan is approved: limit CN¥80,000.00');
    expect(fr.text).toContain('valid until 30 Nov 2027');
  });
});

describe('the README', () => {
  it('documents the language with a full example that validates and runs', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### A full example'));
    const doc = JSON.parse(section.slice(section.indexOf('```json') + 7, section.indexOf('```', section.indexOf('```json') + 7)));
    const def = JourneyDefinition.parse(doc);
    const templates = TemplateStore.fromFiles();
    expect(validateDefinition(def, { hasTemplate: (k, c) => templates.has(k, c), knownEvents: new Set(Object.keys(eventCatalog())), journeyKeys: new Set(BUILT_IN_KEYS) })).toEqual(
      [],
    );
    const r = run(def, [ev(T0, 'product.purchased', { productId: 'card' })], { profile: { segment: 'hnw', timeZone: 'Asia/Shanghai' }, until: at('P10D') });
    expect(r.lines.slice(1)).toEqual([
      '2026-03-02T02:00:00.000Z send email lifecycle-thanks', // the next 10:00 in Shanghai
      '2026-03-05T02:00:00.000Z task activation-call',
      '2026-03-06T02:00:00.000Z escalate rm-team-lead',
    ]);
  });
});
