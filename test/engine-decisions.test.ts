// What the engine records for the customer timeline: which case a branch took and why, and the sends and tasks a flow
// never made because it was cancelled, its stage was left or the journey ended. Off by default (old histories replay
// without these records); on, every other command stays as it was. No Temporal, no database.
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput, resolveParams } from '../engine/definition.js';
import { advance, type Command, type EngineOptions, type JourneyEvent, type JourneyState, MAX_RECORDED_ITEMS, start } from '../engine/engine.js';
import { simulate } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';

const T0 = '2026-03-02T01:00:00.000Z';
const ON: EngineOptions = { recordDecisions: true };
const journey = (over: Partial<JourneyDefinitionInput>): JourneyDefinition =>
  JourneyDefinition.parse({
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
let n = 0;
const event = (type: string, data: Record<string, unknown> = {}): JourneyEvent => ({ eventId: `${type}-${++n}`, type, occurredAt: T0, data });
const opts = { instanceId: 'i1', customerId: 'c1', params: {}, profile: { segment: 'hnw', attributes: { tier: 3 } } };
const records = (cs: Command[], kind: string) => cs.flatMap((c) => (c.type === 'record' && c.kind === kind ? [c.data] : []));
const later = (iso: string, ms: number) => new Date(Date.parse(iso) + ms);

/** Starts `def`, then applies each input in turn (one second apart), with the given options; every command in order. */
function drive(def: JourneyDefinition, inputs: Parameters<typeof advance>[2][], options: EngineOptions = ON): { state: JourneyState; commands: Command[] } {
  let r = start(def, opts, new Date(T0), options);
  const commands = [...r.commands];
  inputs.forEach((input, i) => {
    r = advance(def, r.state, input, later(T0, (i + 1) * 1000), options);
    commands.push(...r.commands);
  });
  return { state: r.state, commands };
}

const branchy = journey({
  triggers: [
    {
      event: 't.offer',
      steps: [
        {
          type: 'branch',
          id: 'pick',
          cases: [
            { when: 'event.amount >= 10000 && profile.segment == "mass"', steps: [{ type: 'send', channel: 'email', template: 'big' }] },
            { when: 'profile.segment == "hnw" && exists(event.fundCode)', steps: [{ type: 'task', key: 'call', title: 'Call', due: 'P1D' }] },
          ],
          otherwise: [{ type: 'send', channel: 'sms', template: 'small' }],
        },
      ],
    },
  ],
});

describe('branch decisions', () => {
  const cases: { name: string; data: Record<string, unknown>; taken: string; case?: number; when?: string; checked: boolean[]; read: Record<string, unknown> }[] = [
    {
      name: 'the second case: names it, its condition, the failed first condition and every value both read',
      data: { amount: 50000, fundCode: 'F1' },
      taken: 'case',
      case: 1,
      when: 'profile.segment == "hnw" && exists(event.fundCode)',
      checked: [false, true],
      read: { 'event.amount': 50000, 'profile.segment': 'hnw', 'event.fundCode': 'F1' },
    },
    {
      name: 'no case holds: otherwise, with each condition checked false',
      data: { amount: 5 },
      taken: 'otherwise',
      checked: [false, false],
      read: { 'event.amount': 5, 'profile.segment': 'hnw', 'event.fundCode': null },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const { commands } = drive(branchy, [{ type: 'event', event: event('t.offer', c.data) }]);
      const [d] = records(commands, 'branch');
      expect(d).toEqual({
        flow: 'trigger-0',
        step: 'pick',
        path: 'triggers[0].steps[0]',
        taken: c.taken,
        ...(c.case !== undefined ? { case: c.case, when: c.when } : {}),
        checked: c.checked.map((result, j) => ({
          case: j,
          when: branchy.triggers[0]!.steps[0]!.type === 'branch' ? (branchy.triggers[0]!.steps[0] as { cases: { when: string }[] }).cases[j]!.when : '',
          result,
        })),
        read: c.read,
      });
    });

  it('a branch without otherwise that takes no case says so', () => {
    const def = journey({ triggers: [{ event: 't.x', steps: [{ type: 'branch', cases: [{ when: 'event.v == 1', steps: [{ type: 'goal', key: 'g' }] }] }] }] });
    const { commands } = drive(def, [{ type: 'event', event: event('t.x', { v: 2 }) }]);
    expect(records(commands, 'branch')).toEqual([
      { flow: 'trigger-0', path: 'triggers[0].steps[0]', taken: 'none', checked: [{ case: 0, when: 'event.v == 1', result: false }], read: { 'event.v': 2 } },
    ]);
  });

  it('keeps contact data and large values out of the log: a contact field is redacted, a long string cut, an object named by its shape', () => {
    const def = journey({
      triggers: [{ event: 't.x', steps: [{ type: 'branch', cases: [{ when: 'event.email == "a@b.c" || event.phone == "1" || event.note == "" || event.obj == 1', steps: [] }] }] }],
    });
    const { commands } = drive(def, [{ type: 'event', event: event('t.x', { email: 'someone@example.com', phone: '+8613800000000', note: 'n'.repeat(500), obj: { a: 1 } }) }]);
    const [d] = records(commands, 'branch');
    expect(d!.read).toEqual({ 'event.email': '[redacted]', 'event.phone': '[redacted]', 'event.note': `${'n'.repeat(120)}…`, 'event.obj': '[object]' });
    expect(JSON.stringify(d)).not.toContain('someone@example.com');
    expect(JSON.stringify(d)).not.toContain('+8613800000000');
  });
});

const waiting = journey({
  stages: [
    {
      key: 'one',
      label: 'One',
      onEnter: [
        { type: 'delay', duration: 'P1D' },
        { type: 'send', id: 'nudge', channel: 'sms', template: 'stage-nudge' },
      ],
    },
    { key: 'two', label: 'Two' },
  ],
  triggers: [
    { event: 't.move', steps: [{ type: 'stage', stage: 'two' }] },
    {
      event: 't.due',
      flow: 'reminder',
      instanceField: 'dueAt',
      steps: [
        { type: 'delay', duration: 'P3D' },
        { type: 'send', channel: 'sms', template: 'reminder' },
        { type: 'task', key: 'chase', title: 'Chase', due: 'P1D' },
      ],
    },
    { event: 't.paid', steps: [{ type: 'cancel', id: 'stop-reminder', flow: 'reminder', instanceFromEvent: 'dueAt' }] },
    {
      event: 't.ask',
      flow: 'ask',
      replace: true,
      steps: [
        {
          type: 'wait',
          for: [{ event: 't.answer', then: [{ type: 'send', channel: 'email', template: 'thanks' }] }],
          timeout: 'P2D',
          onTimeout: [{ type: 'task', key: 'ask-again', title: 'Ask', due: 'P1D' }],
        },
      ],
    },
    { event: 't.leave', steps: [{ type: 'exit', reason: 'left' }] },
  ],
});

describe('branch decisions are bounded', () => {
  it('lists at most MAX_RECORDED_ITEMS checked conditions, counts the rest, names the taken case whatever its index, and cuts strings in lists', () => {
    const cases = Array.from({ length: MAX_RECORDED_ITEMS + 5 }, (_, i) => ({ when: `event.n == ${i}`, steps: [] }));
    const def = journey({ triggers: [{ event: 't.x', steps: [{ type: 'branch', cases: [...cases, { when: '"a" in event.tags', steps: [] }] }] }] });
    const { commands } = drive(def, [{ type: 'event', event: event('t.x', { n: -1, tags: ['a', 'b'.repeat(300)] }) }]);
    const [d] = records(commands, 'branch');
    expect(d).toMatchObject({ taken: 'case', case: MAX_RECORDED_ITEMS + 5, when: '"a" in event.tags', checkedMore: 6 });
    expect((d!.checked as unknown[]).length).toBe(MAX_RECORDED_ITEMS);
    expect(d!.read).toEqual({ 'event.n': -1, 'event.tags': ['a', `${'b'.repeat(120)}…`] });
  });
});

describe('sends and tasks that never happened', () => {
  it('a cancel step: names the flow and instance cancelled, the step that cancelled it, where it waited and what it had ahead', () => {
    const { commands } = drive(waiting, [
      { type: 'event', event: event('t.due', { dueAt: 'd1' }) },
      { type: 'event', event: event('t.due', { dueAt: 'd2' }) },
      { type: 'event', event: event('t.paid', { dueAt: 'd1' }) },
    ]);
    expect(records(commands, 'send_skipped')).toEqual([
      {
        flow: 'reminder',
        instance: 'd1',
        waitingAt: { path: 'triggers[1].steps[0]' },
        reason: 'flow_cancelled',
        by: { flow: 'trigger-2', step: 'stop-reminder', path: 'triggers[2].steps[0]' },
        skipped: [
          { action: 'send', path: 'triggers[1].steps[1]', channel: 'sms', template: 'reminder' },
          { action: 'task', path: 'triggers[1].steps[2]', taskKey: 'chase' },
        ],
      },
    ]);
  });

  it("leaving a stage: its waiting flow's send is recorded with the stage left and entered", () => {
    const { commands } = drive(waiting, [{ type: 'event', event: event('t.move') }]);
    expect(records(commands, 'send_skipped')).toEqual([
      {
        flow: 'stage:one',
        waitingAt: { path: 'stages[0].onEnter[0]' },
        reason: 'stage_left',
        stage: 'one',
        to: 'two',
        skipped: [{ action: 'send', step: 'nudge', path: 'stages[0].onEnter[1]', channel: 'sms', template: 'stage-nudge' }],
      },
    ]);
    // The record comes before the stage change it explains, and takes a sequence number only when it is on.
    const kinds = commands.map((c) => (c.type === 'record' ? c.kind : c.type));
    expect(kinds.indexOf('send_skipped')).toBeLessThan(kinds.lastIndexOf('stageChanged'));
  });

  it('the journey ending: every flow still waiting, each arm of a wait listed (answer and timeout), before `ended`', () => {
    const { commands } = drive(waiting, [
      { type: 'event', event: event('t.ask') },
      { type: 'event', event: event('t.due', { dueAt: 'd1' }) },
      { type: 'event', event: event('t.leave') },
    ]);
    const skipped = records(commands, 'send_skipped');
    expect(skipped.map((s) => [s.flow, s.reason, s.status, s.endReason, (s.skipped as { template?: string; taskKey?: string }[]).map((x) => x.template ?? x.taskKey)])).toEqual([
      ['stage:one', 'journey_ended', 'exited', 'left', ['stage-nudge']],
      ['ask', 'journey_ended', 'exited', 'left', ['thanks', 'ask-again']],
      ['reminder', 'journey_ended', 'exited', 'left', ['reminder', 'chase']],
    ]);
    expect(commands.at(-1)).toMatchObject({ type: 'ended', status: 'exited' });
  });

  it('a flow replaced by its trigger records what the old one had ahead', () => {
    const { commands } = drive(waiting, [
      { type: 'event', event: event('t.ask') },
      { type: 'event', event: event('t.ask') },
    ]);
    expect(records(commands, 'send_skipped')).toEqual([
      expect.objectContaining({
        flow: 'ask',
        reason: 'flow_replaced',
        event: 't.ask',
        skipped: [expect.objectContaining({ template: 'thanks' }), expect.objectContaining({ taskKey: 'ask-again' })],
      }),
    ]);
  });

  it('a flow with nothing ahead records nothing', () => {
    const def = journey({
      triggers: [
        {
          event: 't.w',
          flow: 'w',
          steps: [
            { type: 'delay', duration: 'P1D' },
            { type: 'goal', key: 'g' },
          ],
        },
        { event: 't.leave', steps: [{ type: 'exit', reason: 'left' }] },
      ],
    });
    const { commands } = drive(def, [
      { type: 'event', event: event('t.w') },
      { type: 'event', event: event('t.leave') },
    ]);
    expect(records(commands, 'send_skipped')).toEqual([]);
  });

  it('lists at most MAX_RECORDED_ITEMS sends, and a loop through goto once', () => {
    const sends = Array.from({ length: MAX_RECORDED_ITEMS + 5 }, (_, i) => ({ type: 'send' as const, channel: 'email' as const, template: `t${i}` }));
    const def = journey({
      triggers: [
        { event: 't.w', flow: 'w', steps: [{ type: 'delay', id: 'top', duration: 'P1D' }, ...sends, { type: 'goto', target: 'top' }] },
        { event: 't.leave', steps: [{ type: 'exit', reason: 'left' }] },
      ],
    });
    const { commands } = drive(def, [
      { type: 'event', event: event('t.w') },
      { type: 'event', event: event('t.leave') },
    ]);
    const [s] = records(commands, 'send_skipped');
    expect((s!.skipped as unknown[]).length).toBe(MAX_RECORDED_ITEMS);
  });
});

describe('off by default, so old histories replay', () => {
  it('without the option no branch or send_skipped is recorded and every other command is the same as with it, save sequence numbers', () => {
    const inputs = [{ type: 'event' as const, event: event('t.offer', { amount: 1 }) }];
    const off = drive(branchy, inputs, {});
    const on = drive(branchy, inputs, ON);
    expect(records(off.commands, 'branch')).toEqual([]);
    const strip = (cs: Command[]) => cs.filter((c) => c.type !== 'record' || (c.kind !== 'branch' && c.kind !== 'send_skipped')).map((c) => ({ ...c, idempotencyKey: undefined }));
    expect(strip(on.commands)).toEqual(strip(off.commands));
    // The records take sequence numbers: the send's key moves, which is why the workflow gates this behind a patch.
    const key = (cs: Command[]) => cs.find((c) => c.type === 'send') as Extract<Command, { type: 'send' }>;
    expect(key(on.commands).idempotencyKey).not.toBe(key(off.commands).idempotencyKey);
  });

  it('the built-in bank-loan journey: a repayment reminder cancelled by the repayment is recorded, with its SMS', () => {
    const loan = loadBuiltIn('bank-loan');
    const dueAt = '2026-06-01T00:00:00.000Z';
    const ev = (at: string, type: string, data: Record<string, unknown> = {}) => ({
      at,
      input: { type: 'event' as const, event: { eventId: `${type}@${at}`, type, occurredAt: at, data } },
    });
    const r = simulate(loan, {
      customerId: 'c1',
      params: resolveParams(loan, {}),
      start: T0,
      until: '2026-05-01T00:00:00.000Z',
      inputs: [ev('2026-03-03T00:00:00.000Z', 'loan.repayment_due', { dueAt }), ev('2026-03-04T00:00:00.000Z', 'loan.repaid', { dueAt })],
      engine: ON,
    });
    const skipped = r.timeline.flatMap((t) => (t.command.type === 'record' && t.command.kind === 'send_skipped' ? [t.command.data] : []));
    expect(skipped).toEqual([
      expect.objectContaining({
        flow: 'repayment-reminder',
        instance: dueAt,
        reason: 'flow_cancelled',
        skipped: [expect.objectContaining({ channel: 'sms', template: 'loan-repayment-reminder' })],
      }),
    ]);
    expect(r.timeline.some((t) => t.command.type === 'send' && t.command.template === 'loan-repayment-reminder')).toBe(false);
  });
});
