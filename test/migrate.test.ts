// Moving a running journey to a new version of its definition, in the pure engine: what lands where, what is refused
// and why, and that nothing already sent is sent again.
import { describe, expect, it } from 'vitest';
import { JourneyDefinition, type JourneyDefinitionInput, resolveParams, type Step } from '../engine/definition.js';
import { advance, type Command, type JourneyState, start } from '../engine/engine.js';
import { migrateState, planMove } from '../engine/migrate.js';
import { loadBuiltIn } from '../journeys/index.js';

const v1 = loadBuiltIn('bank-loan');
const T0 = new Date('2026-03-01T09:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const WAIT = 'stages[2].onEnter[1]';

/** v1 with changes to a copy of its document, as the next version. */
function next(change: (d: JourneyDefinitionInput & { stages: { key: string; label: string; onEnter?: Step[] }[] }) => void, version = 2): JourneyDefinition {
  const doc = JSON.parse(JSON.stringify(v1)) as JourneyDefinitionInput & { stages: { key: string; label: string; onEnter?: Step[] }[] };
  change(doc);
  return JourneyDefinition.parse({ ...doc, version });
}
const comparison = (d: { stages: { key: string; onEnter?: Step[] }[] }) => d.stages.find((s) => s.key === 'comparison')!;
/** v2: an SMS after the comparison stage's wait (whichever way the wait ends). */
const v2 = next((d) => comparison(d).onEnter!.push({ type: 'send', channel: 'sms', template: 'loan-comparison-follow-up' }));

let seq = 0;
const event = (type: string, data: Record<string, unknown> = {}) => ({ type: 'event' as const, event: { eventId: `e${++seq}`, type, occurredAt: T0.toISOString(), data } });
const sends = (cs: Command[]) => cs.flatMap((c) => (c.type === 'send' ? [`${c.channel}:${c.template}`] : []));

/** A bank-loan journey on v1, in the comparison stage, waiting for an application. */
function comparing(): { state: JourneyState; commands: Command[] } {
  const params = resolveParams(v1);
  let r = start(v1, { instanceId: 'journey:bank-loan:c1', customerId: 'c1', params }, T0);
  const commands = [...r.commands];
  r = advance(v1, r.state, event('loan.stage_changed', { stage: 'comparison' }), later(1000));
  commands.push(...r.commands);
  return { state: r.state, commands };
}

describe('migrateState', () => {
  it('moves a journey waiting in comparison onto v2 with its timeout kept, and the new step runs once after the wait', () => {
    const { state, commands } = comparing();
    expect(sends(commands)).toEqual(['email:loan-comparison-guide']);
    const r = migrateState(v1, v2, state);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.move).toEqual({ stage: { from: 'comparison', to: 'comparison' }, steps: [{ from: WAIT, to: WAIT }] });
    expect(r.state.version).toBe(2);
    expect(r.state.flows.map((f) => f.waiting)).toEqual(state.flows.map((f) => f.waiting));
    expect(r.state.nextCommandSeq).toBe(state.nextCommandSeq);

    const after = advance(v2, r.state, event('loan.application_started'), later(2000));
    expect(sends(after.commands)).toEqual(['sms:loan-comparison-follow-up']);
    const keys = [...commands, ...after.commands].flatMap((c) => (c.type === 'send' ? [c.idempotencyKey] : []));
    expect(new Set(keys).size).toBe(keys.length);
    expect(after.state.stage).toBe('first_loan');
  });

  it('keeps the due time of a waiting timer (the renewal timer of an approved loan)', () => {
    const { state } = comparing();
    const expiresAt = new Date(T0.getTime() + 200 * 86_400_000).toISOString();
    const approved = advance(v1, state, event('loan.approved', { limit: 1000, expiresAt }), later(2000)).state;
    const timer = approved.flows.find((f) => f.name === 'renewal-timer')!;
    const r = migrateState(v1, v2, approved);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.state.flows.find((f) => f.name === 'renewal-timer')!.waiting).toEqual(timer.waiting);
  });

  it('refuses to move a waiting wait step onto a delay, naming the step and the reason', () => {
    const unsafe = next((d) => (comparison(d).onEnter![1] = { type: 'delay', duration: 'P3D' }));
    const r = migrateState(v1, unsafe, comparing().state);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ code: 'incompatible_step', step: WAIT });
    expect(r.error.message).toBe(`step "${WAIT}" cannot move to "${WAIT}": a wait step cannot become a delay step`);
    expect(planMove(v1, unsafe, {}, { stage: 'comparison', waiting: [WAIT], params: resolveParams(v1) })).toEqual({ ok: false, error: r.error });
  });

  it('refuses a wait mapped onto a wait for other events', () => {
    const other = next((d) => {
      const w = comparison(d).onEnter![1] as Extract<Step, { type: 'wait' }>;
      w.for = [{ event: 'loan.approved' }];
    });
    const r = migrateState(v1, other, comparing().state);
    expect(r.ok || r.error.message).toContain('it waits for [loan.application_started, loan.application_submitted, loan.approved], the new step for [loan.approved]');
  });

  it('refuses a stage the new version does not have, and moves it where the map says (the stage flow renamed)', () => {
    const renamed = next((d) => {
      comparison(d).key = 'compare';
      for (const t of d.triggers ?? []) for (const s of t.steps as Step[]) if (s.type === 'stage' && s.stage === 'comparison') s.stage = 'compare';
    });
    const refused = migrateState(v1, renamed, comparing().state);
    expect(refused.ok || refused.error).toMatchObject({ code: 'unmapped_stage', stage: 'comparison' });
    const r = migrateState(v1, renamed, comparing().state, { stages: { comparison: 'compare' } });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.state.stage).toBe('compare');
    expect(r.state.flows.map((f) => [f.name, f.stage])).toEqual([['stage:compare', 'compare']]);
  });

  it('follows the map to a step that moved (by id), and refuses a step with no home', () => {
    const moved = next((d) => {
      const steps = comparison(d).onEnter!;
      steps[1] = { ...steps[1]!, id: 'comparison-wait' };
      steps.unshift({ type: 'goal', key: 'approved' });
    });
    const refused = migrateState(v1, moved, comparing().state);
    expect(refused.ok || refused.error).toMatchObject({ code: 'incompatible_step' });
    const r = migrateState(v1, moved, comparing().state, { steps: { [WAIT]: 'comparison-wait' } });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.move.steps).toEqual([{ from: WAIT, to: 'comparison-wait' }]);
    const gone = next((d) => comparison(d).onEnter!.splice(1, 1));
    expect(planMove(v1, gone, {}, { stage: 'comparison', waiting: [WAIT], params: {} })).toMatchObject({ ok: false, error: { code: 'unmapped_step', step: WAIT } });
  });

  it('gives parameters the new version adds their defaults, and refuses a map naming what a version does not have', () => {
    const withParam = next((d) => (d.params = { ...d.params, followUpAfter: { type: 'duration', default: 'P1D' } }));
    const r = migrateState(v1, withParam, comparing().state);
    expect(r.ok && r.state.params.followUpAfter).toBe('P1D');
    expect(planMove(v1, v2, { steps: { 'stages[9].onEnter[0]': WAIT } }, { stage: 'comparison', waiting: [], params: {} })).toMatchObject({
      ok: false,
      error: { code: 'unknown_in_map' },
    });
  });

  it('refuses a parameter whose declared type changes, in the live move and the dry run alike', () => {
    const withHint = next((d) => (d.params = { ...d.params, channelHint: { type: 'string', default: 'sms' } }), 1);
    const retyped = next((d) => (d.params = { ...d.params, channelHint: { type: 'number', default: 1 } }));
    const state = { ...comparing().state, params: { ...resolveParams(withHint), channelHint: '2' } };
    const r = migrateState(withHint, retyped, state);
    expect(r.ok || r.error).toEqual({ code: 'incompatible_param', message: 'parameter "channelHint" is a string in version 1 and a number in version 2' });
    expect(planMove(withHint, retyped, {}, { stage: 'comparison', waiting: [WAIT], params: state.params })).toEqual(r);
  });

  it('refuses a duration the new version would not start with (over the configured limit), in the live move and the dry run alike', () => {
    const { state } = comparing();
    const limits = { max: 'P20D', minWait: 'PT1S' };
    // renewalOfferBefore is P30D: a start under a 20-day maximum would refuse it, so the move does too.
    const r = migrateState(v1, v2, state, {}, { limits });
    expect(r.ok || r.error).toMatchObject({ code: 'incompatible_param' });
    expect(r.ok || r.error.message).toContain('parameter "renewalOfferBefore" cannot carry its value to version 2');
    expect(planMove(v1, v2, {}, { stage: 'comparison', waiting: [WAIT], params: state.params }, { limits })).toEqual(r);
    expect(migrateState(v1, v2, state, {}, { limits: { max: 'P10Y', minWait: 'PT1S' } }).ok).toBe(true);
  });

  it('refuses in the dry run a journey whose parameter value the new version does not accept', () => {
    // The read model keeps what the journey runs with; a value that is not a duration cannot move onto a duration.
    expect(planMove(v1, v2, {}, { stage: 'comparison', waiting: [WAIT], params: { taskDueIn: 'soon' } })).toMatchObject({
      ok: false,
      error: { code: 'incompatible_param', message: 'parameter "taskDueIn" cannot carry its value to version 2: must be an ISO-8601 duration such as P3D or PT24H' },
    });
  });

  it('enters a renamed stage with cause migration: a stage history entry and the transition for the read model', () => {
    const renamed = next((d) => {
      comparison(d).key = 'compare';
      for (const t of d.triggers ?? []) for (const s of t.steps as Step[]) if (s.type === 'stage' && s.stage === 'comparison') s.stage = 'compare';
    });
    const { state } = comparing();
    const now = later(5000);
    const r = migrateState(v1, renamed, state, { stages: { comparison: 'compare' } }, { now });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.state.stageHistory).toEqual([...state.stageHistory, { stage: 'compare', enteredAt: now.toISOString(), cause: 'migration' }]);
    expect(r.state.stageEnteredAt).toBe(now.toISOString());
    expect(r.transition).toEqual({ type: 'stageChanged', seq: state.stageHistory.length + 1, from: 'comparison', to: 'compare', at: now.toISOString(), cause: 'migration' });
    // The next stage change numbers on from it.
    const after = advance(renamed, r.state, event('loan.application_started'), later(6000));
    expect(after.commands.find((c) => c.type === 'stageChanged')).toMatchObject({ seq: state.stageHistory.length + 2, from: 'compare', to: 'first_loan' });
    // Kept stage: no transition.
    const same = migrateState(v1, v2, state, {}, { now });
    expect(same.ok && same.transition).toBeUndefined();
    expect(same.ok && same.state.stageHistory).toEqual(state.stageHistory);
  });
});
