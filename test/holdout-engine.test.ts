// Control journeys in the pure engine: the same waits, stages and goals as treated ones, no sends and no tasks, each
// held-out action in the log. Virtual time, no Temporal.
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput, resolveParams } from '../engine/definition.js';
import { addDuration } from '../engine/duration.js';
import { advance, type Command, type Holdout, nextWakeAt, start } from '../engine/engine.js';
import { simulate, type ScriptedInput } from '../engine/simulate.js';
import { validateDefinition } from '../engine/validate.js';
import { loadBuiltIn } from '../journeys/index.js';

const T0 = '2026-03-01T09:00:00.000Z';
const at = (iso: string, d: string) => addDuration(new Date(iso), d).toISOString();
const CONTROL: Holdout = { cohort: 'control', source: 'journey', percent: 10 };
const TREATED: Holdout = { cohort: 'treated', source: 'journey', percent: 10 };

let seq = 0;
const ev = (when: string, type: string, data: Record<string, unknown> = {}): ScriptedInput => ({
  at: when,
  input: { type: 'event', event: { eventId: `e${++seq}`, type, occurredAt: when, data } },
});

/** What happened, without the keys (which shift by one when the holdout entry comes first). */
const line = (t: { at: string; command: Command }) => {
  const c = t.command;
  switch (c.type) {
    case 'send':
      return `${t.at} send:${c.channel}:${c.template}`;
    case 'createTask':
      return `${t.at} task:${c.taskKey}`;
    case 'stageChanged':
      return `${t.at} stage:${c.to}`;
    case 'record':
      return `${t.at} ${c.kind}:${JSON.stringify(c.data)}`;
    case 'ended':
      return `${t.at} ended:${c.status}:${c.reason}`;
    case 'escalateTask':
      return `${t.at} escalate:${c.to}`;
    case 'startJourney':
    case 'signalJourney':
      return `${t.at} ${c.type}:${c.journeyKey}`;
    case 'stopJourneys':
      return `${t.at} ${c.type}:${c.journeyKey ?? c.tag}`;
  }
};

describe('a control bank-loan journey', () => {
  const loan = loadBuiltIn('bank-loan');
  const script = () => [
    ev(at(T0, 'P1D'), 'loan.stage_changed', { stage: 'interest' }),
    ev(at(T0, 'P2D'), 'loan.stage_changed', { stage: 'comparison' }),
    ev(at(T0, 'P3D'), 'loan.application_started'),
    ev(at(T0, 'P4D'), 'loan.approved', { limit: 50000, expiresAt: '2027-03-01T00:00:00.000Z' }),
    ev(at(T0, 'P5D'), 'loan.drawdown', { amount: 10000 }),
    ev(at(T0, 'P10D'), 'loan.repayment_due', { dueAt: '2026-04-01T00:00:00.000Z' }),
    ev('2027-01-31T00:00:00.000Z', 'loan.renewed'),
  ];
  const runAs = (holdout?: Holdout) =>
    simulate(loan, { customerId: 'c1', params: resolveParams(loan, {}), start: T0, until: '2027-06-01T00:00:00.000Z', inputs: script(), ...(holdout ? { holdout } : {}) });

  it('goes through the same stages, goals and end as a treated one, with every send held out in its place', () => {
    const treated = runAs();
    const control = runAs(CONTROL);
    expect(control.state.status).toBe('completed');
    expect(control.state.stageHistory.map((s) => [s.stage, s.enteredAt])).toEqual(treated.state.stageHistory.map((s) => [s.stage, s.enteredAt]));
    expect(control.state.goals).toEqual(['approved', 'renewed']);
    expect(control.state.cohort).toBe('control');
    const sendsAsHeldOut = treated.timeline.map((t) => {
      const c = t.command;
      if (c.type === 'send') return `${t.at} held_out:${JSON.stringify({ action: 'send', channel: c.channel, template: c.template, flow: c.flow })}`;
      if (c.type === 'createTask') return `${t.at} held_out:${JSON.stringify({ action: 'task', taskKey: c.taskKey, flow: c.flow, dueAt: c.dueAt })}`;
      return line(t);
    });
    const controlLines = control.timeline.map((t) =>
      t.command.type === 'record' && t.command.kind === 'held_out' ? line({ at: t.at, command: { ...t.command, data: { ...t.command.data, step: undefined } } }) : line(t),
    );
    expect(controlLines).toEqual([`${T0} holdout:${JSON.stringify({ cohort: 'control', source: 'journey', percent: 10 })}`, ...sendsAsHeldOut]);
    // The comparison above compared something: sends and a task (no outcomes awaited, so the flows run alike).
    expect(treated.timeline.filter((t) => t.command.type === 'send').length).toBeGreaterThan(5);
    expect(treated.timeline.filter((t) => t.command.type === 'createTask').length).toBe(1);
    expect(control.timeline.some((t) => t.command.type === 'send' || t.command.type === 'createTask')).toBe(false);
  });

  it('names the step each held-out send stood for', () => {
    const control = runAs(CONTROL);
    const held = control.timeline.flatMap((t) => (t.command.type === 'record' && t.command.kind === 'held_out' ? [t.command.data] : []));
    expect(held[0]).toEqual({ action: 'send', channel: 'email', template: 'loan-product-intro', flow: 'stage:interest', step: 'stages[1].onEnter[0]' });
  });

  it('a treated start with a holdout logs its cohort first and sends as before', () => {
    const treated = runAs(TREATED);
    expect(line(treated.timeline[0]!)).toBe(`${T0} holdout:${JSON.stringify({ cohort: 'treated', source: 'journey', percent: 10 })}`);
    expect(treated.timeline.slice(1).map(line)).toEqual(runAs().timeline.map(line));
  });

  it('a start without a holdout logs nothing about cohorts and keeps the state it always had', () => {
    const r = runAs();
    expect(r.state.cohort).toBeUndefined();
    expect(r.timeline.some((t) => t.command.type === 'record' && (t.command.kind === 'holdout' || t.command.kind === 'held_out'))).toBe(false);
  });
});

describe('tasks in a control journey', () => {
  const def = JourneyDefinition.parse({
    key: 'task-holdout',
    version: 1,
    name: 'Task holdout',
    holdout: { percent: 20 },
    stages: [
      { key: 'open', label: 'Open' },
      { key: 'called', label: 'Called' },
      { key: 'closed', label: 'Closed' },
    ],
    initialStage: 'open',
    goals: [{ key: 'won', event: 'deal.won' }],
    triggers: [
      {
        event: 'lead.created',
        steps: [
          { type: 'task', key: 'call', title: 'Call the customer', due: 'P2D', escalateTo: 'rm-boss', outcomes: { interested: [{ type: 'stage', stage: 'called' }], default: [] } },
          { type: 'stage', stage: 'closed' },
          { type: 'task', key: 'note', title: 'Write a note', due: 'P1D' },
          { type: 'send', channel: 'email', template: 'welcome' },
        ],
      },
    ],
  } satisfies JourneyDefinitionInput);
  const opts = (holdout?: Holdout) => ({ instanceId: 'w1', customerId: 'c1', params: {}, ...(holdout ? { holdout } : {}) });

  it('creates no task and waits until the task would fall due, then takes the step after it (no outcome branch)', () => {
    const s0 = start(def, opts(CONTROL), new Date(T0)).state;
    const r1 = advance(def, s0, ev(T0, 'lead.created').input, new Date(T0));
    expect(r1.commands.map((c) => c.type)).toEqual(['record']);
    expect(r1.commands[0]).toMatchObject({ kind: 'held_out', data: { action: 'task', taskKey: 'call', flow: 'trigger-0', dueAt: at(T0, 'P2D') } });
    expect(r1.state.openTasks ?? []).toEqual([]); // nothing to escalate
    expect(nextWakeAt(r1.state)).toBe(at(T0, 'P2D'));
    const r2 = advance(def, r1.state, { type: 'timer' }, new Date(at(T0, 'P2D')));
    // Not `called` (the `interested` branch) nor the `default` branch: straight on to the step after the task.
    expect(r2.state.stageHistory.map((s) => s.stage)).toEqual(['open', 'closed']);
    expect(r2.commands.filter((c) => c.type === 'record').map((c) => (c as Extract<Command, { type: 'record' }>).data.action)).toEqual(['task', 'send']);
    expect(r2.commands.some((c) => c.type === 'createTask' || c.type === 'send' || c.type === 'escalateTask')).toBe(false);
  });

  it('an RM outcome cannot reach a control journey: there is no task to complete', () => {
    const s0 = start(def, opts(CONTROL), new Date(T0)).state;
    const r1 = advance(def, s0, ev(T0, 'lead.created').input, new Date(T0));
    const r2 = advance(def, r1.state, { type: 'taskCompleted', taskId: 't1', taskKey: 'call', outcome: 'interested', taskRef: 'anything' }, new Date(at(T0, 'PT1H')));
    expect(r2.state.stage).toBe('open');
    expect(nextWakeAt(r2.state)).toBe(at(T0, 'P2D'));
  });

  it('the treated journey asks the RM and waits for the outcome, escalating at the due time', () => {
    const s0 = start(def, opts(TREATED), new Date(T0)).state;
    const r1 = advance(def, s0, ev(T0, 'lead.created').input, new Date(T0));
    expect(r1.commands.map((c) => c.type)).toEqual(['createTask']);
    const r2 = advance(def, r1.state, { type: 'timer' }, new Date(at(T0, 'P2D')));
    expect(r2.commands.map((c) => c.type)).toEqual(['escalateTask']);
    expect(r2.state.stage).toBe('open');
  });

  it('goals end a control journey as they end a treated one', () => {
    const s0 = start(def, opts(CONTROL), new Date(T0)).state;
    const r = advance(def, s0, ev(T0, 'deal.won').input, new Date(T0));
    expect(r.state).toMatchObject({ status: 'completed', goals: ['won'], cohort: 'control' });
  });
});

describe('holdouts in the definition language', () => {
  const base = {
    key: 'h',
    version: 1,
    name: 'H',
    stages: [{ key: 'a', label: 'A' }],
    initialStage: 'a',
    goals: [{ key: 'g', event: 'x.done' }],
  };
  const ctx = { hasTemplate: () => true, knownEvents: new Set(['x.done']) };

  it.each([0, -1, 50.5, 100, '10'])('refuses holdout percent %s (0 < percent ≤ 50)', (percent) => {
    expect(JourneyDefinition.safeParse({ ...base, holdout: { percent } }).success).toBe(false);
  });

  it.each([0.5, 10, 50])('accepts holdout percent %s', (percent) => {
    expect(JourneyDefinition.parse({ ...base, holdout: { percent } }).holdout).toEqual({ percent });
  });

  it('refuses a holdout with anything but a percent', () => {
    expect(JourneyDefinition.safeParse({ ...base, holdout: { percent: 10, salt: 'x' } }).success).toBe(false);
  });

  it('validation refuses a holdout on a service journey, and on a journey without goals', () => {
    const service = JourneyDefinition.parse({ ...base, tags: ['service'], holdout: { percent: 10 } });
    expect(validateDefinition(service, ctx)).toContainEqual({ path: 'holdout', message: expect.stringContaining('never held out') });
    const goalless = JourneyDefinition.parse({ ...base, goals: [], holdout: { percent: 10 } });
    expect(validateDefinition(goalless, ctx)).toContainEqual({ path: 'holdout', message: expect.stringContaining('has none') });
    expect(validateDefinition(JourneyDefinition.parse({ ...base, tags: ['marketing'], holdout: { percent: 10 } }), ctx)).toEqual([]);
  });
});
