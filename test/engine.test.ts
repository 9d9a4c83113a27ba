// The bank-loan journey in the pure engine: table-driven, no Temporal, virtual time.
import { describe, expect, it } from 'vitest';
import { resolveParams, JourneyDefinition } from '../engine/definition.js';
import { addDuration } from '../engine/duration.js';
import { advance, type Command, type JourneyEvent, nextWakeAt, start, waitingFor } from '../engine/engine.js';
import { simulate, type ScriptedInput } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';

const loan = loadBuiltIn('bank-loan');
const T0 = '2026-03-01T09:00:00.000Z';
const at = (iso: string, d: string) => addDuration(new Date(iso), d).toISOString();

let seq = 0;
const ev = (when: string, type: string, data: Record<string, unknown> = {}, eventId = `e${++seq}`): ScriptedInput => ({
  at: when,
  input: { type: 'event', event: { eventId, type, occurredAt: when, data } },
});

function run(inputs: ScriptedInput[], until: string, params: Record<string, unknown> = {}) {
  return simulate(loan, { customerId: 'c1', params: resolveParams(loan, params), start: T0, until, inputs });
}

const summary = (c: Command) =>
  c.type === 'send'
    ? `send:${c.channel}:${c.template}`
    : c.type === 'createTask'
      ? `task:${c.taskKey}`
      : c.type === 'stageChanged'
        ? `stage:${c.to}`
        : c.type === 'ended'
          ? `ended:${c.status}:${c.reason}`
          : c.type === 'record'
            ? `record:${c.kind}:${Object.values(c.data).join(':')}`
            : c.type === 'escalateTask'
              ? `escalate:${c.to}`
              : c.type === 'startJourney' || c.type === 'signalJourney'
                ? `${c.type}:${c.journeyKey}`
                : `${c.type}:${c.journeyKey ?? c.tag}`;

const story = (r: ReturnType<typeof run>) => r.timeline.map((t) => `${t.at} ${summary(t.command)}`);

describe('bank-loan journey in the engine', () => {
  const expiresAt = '2027-03-01T00:00:00.000Z';
  const cases: { name: string; inputs: () => ScriptedInput[]; until: string; params?: Record<string, unknown>; expect: string[]; status: string; stage: string }[] = [
    {
      name: 'happy path: awareness to renewal, completed by renewing',
      inputs: () => [
        ev(at(T0, 'P1D'), 'loan.stage_changed', { stage: 'interest' }),
        ev(at(T0, 'P2D'), 'loan.stage_changed', { stage: 'comparison' }),
        ev(at(T0, 'P3D'), 'loan.application_started'),
        ev(at(T0, 'P3DT2H'), 'loan.application_submitted'),
        ev(at(T0, 'P4D'), 'loan.approved', { limit: 50000, expiresAt }),
        ev(at(T0, 'P5D'), 'loan.drawdown', { amount: 10000 }),
        ev(at(T0, 'P10D'), 'loan.repayment_due', { dueAt: '2026-04-01T00:00:00.000Z' }),
        ev('2027-01-31T00:00:00.000Z', 'loan.renewed'),
      ],
      until: '2027-06-01T00:00:00.000Z',
      expect: [
        `${T0} stage:awareness`,
        `${at(T0, 'P1D')} stage:interest`,
        `${at(T0, 'P1D')} send:email:loan-product-intro`,
        `${at(T0, 'P2D')} stage:comparison`,
        `${at(T0, 'P2D')} send:email:loan-comparison-guide`,
        `${at(T0, 'P3D')} stage:first_loan`,
        `${at(T0, 'P4D')} record:goal:approved`,
        `${at(T0, 'P4D')} send:email:loan-approved`,
        `${at(T0, 'P5D')} stage:repayment`,
        `2026-03-29T00:00:00.000Z send:sms:loan-repayment-reminder`,
        `2027-01-30T00:00:00.000Z stage:renewal`,
        `2027-01-30T00:00:00.000Z send:email:loan-renewal-offer`,
        `2027-01-30T00:00:00.000Z send:sms:loan-renewal-offer`,
        `2027-01-31T00:00:00.000Z record:goal:renewed`,
        `2027-01-31T00:00:00.000Z startJourney:fund-dca`,
        `2027-01-31T00:00:00.000Z ended:completed:renewed`,
      ],
      status: 'completed',
      stage: 'renewal',
    },
    {
      name: 'comparison without an application: one SMS nudge after comparisonNudgeAfter, never a second',
      inputs: () => [ev(at(T0, 'PT1H'), 'loan.stage_changed', { stage: 'comparison' })],
      until: at(T0, 'P60D'),
      expect: [
        `${T0} stage:awareness`,
        `${at(T0, 'PT1H')} stage:comparison`,
        `${at(T0, 'PT1H')} send:email:loan-comparison-guide`,
        `${at(T0, 'P3DT1H')} send:sms:loan-comparison-nudge`,
      ],
      status: 'running',
      stage: 'comparison',
    },
    {
      name: 'the nudge waits as long as the param says',
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'comparison' })],
      params: { comparisonNudgeAfter: 'PT10M' },
      until: at(T0, 'P1D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:comparison`, `${T0} send:email:loan-comparison-guide`, `${at(T0, 'PT10M')} send:sms:loan-comparison-nudge`],
      status: 'running',
      stage: 'comparison',
    },
    {
      name: 'an application before the nudge cancels it',
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'comparison' }), ev(at(T0, 'P2D'), 'loan.application_started'), ev(at(T0, 'P2DT1H'), 'loan.application_submitted')],
      until: at(T0, 'P30D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:comparison`, `${T0} send:email:loan-comparison-guide`, `${at(T0, 'P2D')} stage:first_loan`],
      status: 'running',
      stage: 'first_loan',
    },
    {
      name: "leaving comparison by the bank's stage change cancels the nudge",
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'comparison' }), ev(at(T0, 'P1D'), 'loan.stage_changed', { stage: 'interest' })],
      until: at(T0, 'P30D'),
      expect: [
        `${T0} stage:awareness`,
        `${T0} stage:comparison`,
        `${T0} send:email:loan-comparison-guide`,
        `${at(T0, 'P1D')} stage:interest`,
        `${at(T0, 'P1D')} send:email:loan-product-intro`,
      ],
      status: 'running',
      stage: 'interest',
    },
    {
      name: 'application started, not submitted: an RM task after applicationAssistAfter',
      inputs: () => [ev(T0, 'loan.application_started')],
      until: at(T0, 'P10D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:first_loan`, `${at(T0, 'PT24H')} task:application-assist`],
      status: 'running',
      stage: 'first_loan',
    },
    {
      name: 'approved without drawdown: an RM task after drawdownFollowUpAfter',
      inputs: () => [ev(T0, 'loan.approved', { limit: 1000, expiresAt })],
      until: at(T0, 'P10D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:first_loan`, `${T0} record:goal:approved`, `${T0} send:email:loan-approved`, `${at(T0, 'P7D')} task:drawdown-follow-up`],
      status: 'running',
      stage: 'first_loan',
    },
    {
      name: 'each repayment due date gets its own reminder; a repaid instalment cancels only its own',
      inputs: () => [
        ev(T0, 'loan.drawdown', { amount: 1 }),
        ev(at(T0, 'P1D'), 'loan.repayment_due', { dueAt: '2026-04-01T00:00:00.000Z' }),
        ev(at(T0, 'P1D'), 'loan.repayment_due', { dueAt: '2026-05-01T00:00:00.000Z' }),
        ev(at(T0, 'P2D'), 'loan.repaid', { dueAt: '2026-04-01T00:00:00.000Z' }),
      ],
      until: '2026-06-01T00:00:00.000Z',
      expect: [`${T0} stage:awareness`, `${T0} stage:repayment`, `2026-04-28T00:00:00.000Z send:sms:loan-repayment-reminder`],
      status: 'running',
      stage: 'repayment',
    },
    {
      name: 'a due date inside the reminder window is reminded at once; one already past is not reminded',
      inputs: () => [ev(T0, 'loan.repayment_due', { dueAt: at(T0, 'P1D') }), ev(T0, 'loan.repayment_due', { dueAt: '2026-02-27T00:00:00.000Z' })],
      until: at(T0, 'P10D'),
      expect: [`${T0} stage:awareness`, `${T0} send:sms:loan-repayment-reminder`],
      status: 'running',
      stage: 'awareness',
    },
    {
      name: 'renewal offer unanswered: an RM task after renewalFollowUpAfter',
      inputs: () => [ev(T0, 'loan.approved', { limit: 1000, expiresAt: at(T0, 'P40D') }), ev(at(T0, 'P1D'), 'loan.drawdown')],
      until: at(T0, 'P60D'),
      expect: [
        `${T0} stage:awareness`,
        `${T0} stage:first_loan`,
        `${T0} record:goal:approved`,
        `${T0} send:email:loan-approved`,
        `${at(T0, 'P1D')} stage:repayment`,
        `${at(T0, 'P10D')} stage:renewal`,
        `${at(T0, 'P10D')} send:email:loan-renewal-offer`,
        `${at(T0, 'P10D')} send:sms:loan-renewal-offer`,
        `${at(T0, 'P17D')} task:renewal-follow-up`,
      ],
      status: 'running',
      stage: 'renewal',
    },
    {
      name: "opt-out ends the journey, cancels every pending timer, and stops the customer's marketing journeys",
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'comparison' }), ev(at(T0, 'P1D'), 'customer.opted_out')],
      until: at(T0, 'P30D'),
      expect: [
        `${T0} stage:awareness`,
        `${T0} stage:comparison`,
        `${T0} send:email:loan-comparison-guide`,
        `${at(T0, 'P1D')} stopJourneys:marketing`,
        `${at(T0, 'P1D')} ended:exited:opted_out`,
      ],
      status: 'exited',
      stage: 'comparison',
    },
    {
      name: 'opting out of one channel does not end the journey',
      inputs: () => [ev(T0, 'customer.opted_out', { channel: 'sms' })],
      until: at(T0, 'P1D'),
      expect: [`${T0} stage:awareness`],
      status: 'running',
      stage: 'awareness',
    },
    {
      name: 'rejection exits',
      inputs: () => [ev(T0, 'loan.application_submitted'), ev(at(T0, 'P1D'), 'loan.rejected')],
      until: at(T0, 'P30D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:first_loan`, `${at(T0, 'P1D')} ended:exited:rejected`],
      status: 'exited',
      stage: 'first_loan',
    },
    {
      name: 'events after the end change nothing',
      inputs: () => [ev(T0, 'loan.rejected'), ev(at(T0, 'P1D'), 'loan.stage_changed', { stage: 'repayment' }), ev(at(T0, 'P2D'), 'loan.renewed')],
      until: at(T0, 'P30D'),
      expect: [`${T0} stage:awareness`, `${T0} ended:exited:rejected`],
      status: 'exited',
      stage: 'awareness',
    },
    {
      name: 'a duplicate event is applied once',
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'interest' }, 'dup'), ev(at(T0, 'P1D'), 'loan.stage_changed', { stage: 'interest' }, 'dup')],
      until: at(T0, 'P2D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:interest`, `${T0} send:email:loan-product-intro`],
      status: 'running',
      stage: 'interest',
    },
    {
      name: 'late implied-stage events do not move the stage back; the bank can',
      inputs: () => [ev(T0, 'loan.drawdown'), ev(at(T0, 'P1D'), 'loan.application_submitted'), ev(at(T0, 'P2D'), 'loan.stage_changed', { stage: 'comparison' })],
      until: at(T0, 'P3D'),
      expect: [`${T0} stage:awareness`, `${T0} stage:repayment`, `${at(T0, 'P2D')} stage:comparison`, `${at(T0, 'P2D')} send:email:loan-comparison-guide`],
      status: 'running',
      stage: 'comparison',
    },
    {
      name: 'an unknown stage from the bank is ignored',
      inputs: () => [ev(T0, 'loan.stage_changed', { stage: 'nirvana' }), ev(T0, 'loan.stage_changed', {})],
      until: at(T0, 'P1D'),
      expect: [`${T0} stage:awareness`],
      status: 'running',
      stage: 'awareness',
    },
  ];

  it.each(cases)('$name', (c) => {
    const r = run(c.inputs(), c.until, c.params);
    expect(story(r)).toEqual(c.expect);
    expect(r.state.status).toBe(c.status);
    expect(r.state.stage).toBe(c.stage);
  });

  it('gives every send and task its own idempotency key, stable for the same inputs', () => {
    const inputs = [ev(T0, 'loan.stage_changed', { stage: 'comparison' }, 'a'), ev(at(T0, 'P1D'), 'loan.approved', { limit: 1, expiresAt }, 'b')];
    const keys = (r: ReturnType<typeof run>) => r.timeline.flatMap((t) => (t.command.type === 'send' || t.command.type === 'createTask' ? [t.command.idempotencyKey] : []));
    const first = keys(run(inputs, at(T0, 'P30D')));
    // comparison guide, approval email, drawdown follow-up task (the nudge is cancelled by the approval)
    expect(first.length).toBe(3);
    expect(new Set(first).size).toBe(first.length);
    expect(keys(run(inputs, at(T0, 'P30D')))).toEqual(first);
  });

  it('reports what it waits for and when it wakes next', () => {
    const def = loan;
    const s0 = start(def, { instanceId: 'w', customerId: 'c', params: resolveParams(def) }, new Date(T0)).state;
    expect(waitingFor(s0)).toEqual([]);
    expect(nextWakeAt(s0)).toBeUndefined();
    const e: JourneyEvent = { eventId: 'x', type: 'loan.stage_changed', occurredAt: T0, data: { stage: 'comparison' } };
    const s1 = advance(def, s0, { type: 'event', event: e }, new Date(T0)).state;
    expect(waitingFor(s1)).toEqual(['loan.application_started', 'loan.application_submitted', 'loan.approved']);
    expect(nextWakeAt(s1)).toBe(at(T0, 'P3D'));
    expect(s0.stage).toBe('awareness'); // advance never mutates its input
  });

  it('passes the task outcome on as an event flows can wait for', () => {
    const s0 = start(loan, { instanceId: 'w', customerId: 'c', params: resolveParams(loan) }, new Date(T0)).state;
    const r = advance(loan, s0, { type: 'taskCompleted', taskId: 't1', taskKey: 'application-assist', outcome: 'interested' }, new Date(T0));
    expect(r.state.eventsSeen).toBe(1);
    expect(r.state.recentEventIds).toContain('task:t1:completed');
  });

  it('exits on the exit input with the given reason', () => {
    const s0 = start(loan, { instanceId: 'w', customerId: 'c', params: resolveParams(loan) }, new Date(T0)).state;
    const r = advance(loan, s0, { type: 'exit', reason: 'customer asked the RM' }, new Date(at(T0, 'P1D')));
    expect(r.commands).toEqual([{ type: 'ended', status: 'exited', reason: 'customer asked the RM', at: at(T0, 'P1D') }]);
  });
});

describe('definitions and params', () => {
  it.each([
    [{ comparisonNudgeAfter: 'PT5M' }, undefined],
    [{ comparisonNudgeAfter: '3 days' }, 'comparisonNudgeAfter: must be an ISO-8601 duration such as P3D or PT24H'],
    [{ comparisonNudgeAfter: 3 }, 'comparisonNudgeAfter: must be an ISO-8601 duration such as P3D or PT24H'],
    [{ nope: 'P1D' }, 'nope: unknown parameter for journey "bank-loan"'],
  ])('params %j', (overrides, error) => {
    if (error) expect(() => resolveParams(loan, overrides)).toThrow(error);
    else expect(resolveParams(loan, overrides).comparisonNudgeAfter).toBe('PT5M');
  });

  it.each([
    [
      'an unknown initial stage',
      (d: any) => {
        d.initialStage = 'nowhere';
      },
      'unknown stage "nowhere"',
    ],
    [
      'a stage step to an unknown stage',
      (d: any) => {
        d.triggers[2].steps[0].stage = 'nowhere';
      },
      'unknown stage "nowhere"',
    ],
    [
      'a bad duration',
      (d: any) => {
        d.params.taskDueIn.default = 'two days';
      },
      'an ISO-8601 duration',
    ],
    [
      'a reference to a missing param',
      (d: any) => {
        d.stages[2].onEnter[1].timeout = { param: 'missing' };
      },
      '"missing" is not a duration parameter',
    ],
    [
      'an unknown step type',
      (d: any) => {
        d.triggers[0].steps[0] = { type: 'teleport' };
      },
      "Expected 'stage' | 'send'",
    ],
  ])('rejects %s', (_name, mutate, message) => {
    const raw = JSON.parse(JSON.stringify(loan));
    mutate(raw);
    const r = JourneyDefinition.safeParse(raw);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message).join('\n')).toContain(message);
  });
});
