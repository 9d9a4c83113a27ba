// The main paths of the four seed journeys, simulated in virtual time (the same engine the workflow drives).
import { describe, expect, it } from 'vitest';
import { resolveParams } from '../engine/definition.js';
import { describe as describeCommand, type ScriptedInput, simulate } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';

const T0 = '2026-03-02T01:00:00.000Z';
const h = (hours: number) => new Date(Date.parse(T0) + hours * 3_600_000).toISOString();
const D = 24;
let n = 0;
const ev = (hours: number, type: string, data: Record<string, unknown> = {}): ScriptedInput => ({
  at: h(hours),
  input: { type: 'event', event: { eventId: `s${++n}`, type, occurredAt: h(hours), data } },
});

function story(key: string, segment: string, inputs: ScriptedInput[], untilHours: number) {
  const def = loadBuiltIn(key);
  const r = simulate(def, { customerId: 'c1', params: resolveParams(def), profile: { segment, timeZone: 'Asia/Shanghai' }, start: T0, until: h(untilHours), inputs });
  const lines = r.timeline.map(({ at, command }) => {
    const e = describeCommand(command, at) as Record<string, unknown>;
    const what =
      e.kind === 'send'
        ? `${e.channel} ${e.template}`
        : e.kind === 'stage'
          ? e.stage
          : e.kind === 'task'
            ? e.taskKey
            : e.kind === 'end'
              ? `${e.status} ${e.reason}`
              : e.kind === 'chorus'
                ? `${e.action} ${e.journeyKey ?? e.tag}`
                : JSON.stringify(e.data);
    return `+${(Date.parse(at) - Date.parse(T0)) / 3_600_000}h ${e.kind} ${what}`;
  });
  return { lines, state: r.state };
}

describe('fund-dca', () => {
  it('a young customer: digital follow-ups at each key step, then the companion', () => {
    const { lines, state } = story(
      'fund-dca',
      'young',
      [
        ev(1, 'fund.article_read'),
        ev(2, 'fund.detail_viewed', { fundCode: 'F1' }),
        ev(5, 'fund.compared'),
        ev(60, 'fund.subscribed', { fundCode: 'F1', amount: 1000 }),
        ev(61, 'feedback.answered', { survey: 'csat', score: 5 }),
        ev(70, 'fund.dca_plan_created', { day: 5 }),
        ev(100, 'fund.dca_executed'),
        ev(200, 'fund.dca_failed'),
        ev(300, 'market.drawdown', { pct: 7 }),
      ],
      75 * D,
    );
    expect(lines).toEqual([
      '+0h stage discover',
      '+1h stage learn',
      '+2h stage evaluate',
      '+4h send webhook fund-detail-guide',
      '+5h stage compare',
      '+53h send sms fund-compare-nudge',
      '+60h stage subscribe',
      '+60h goal {"goal":"subscribed"}',
      '+60h send email fund-onboarding',
      '+60h send sms fund-csat',
      '+61h feedback {"survey":"csat","template":"fund-csat","score":5}',
      '+70h stage invest',
      '+70h goal {"goal":"dca_started"}',
      '+70h send email fund-dca-welcome',
      '+100h send sms fund-dca-confirmed',
      '+200h send sms fund-dca-failed',
      '+300h send email fund-market-reassurance',
      `+${70 + 30 * D}h send email fund-companion-report`,
      `+${70 + 60 * D}h send email fund-companion-report`,
    ]);
    expect(state.goals).toEqual(['subscribed', 'dca_started']);
  });

  it('a high-net-worth customer: an advisor at the same steps instead of pushes', () => {
    const { lines } = story(
      'fund-dca',
      'hnw',
      [
        ev(1, 'fund.detail_viewed', { fundCode: 'F1' }),
        ev(5, 'fund.compared'),
        ev(100, 'fund.subscribed', { fundCode: 'F1', amount: 1e6 }),
        ev(101, 'fund.dca_plan_created', { day: 5 }),
        ev(300, 'market.drawdown', { pct: 7 }),
        ev(310, 'market.drawdown', { pct: 2 }),
      ],
      20 * D,
    );
    expect(lines.filter((l) => / task | send /.test(l))).toEqual([
      '+1h task advisor-fund-talk',
      '+53h task advisor-compare',
      '+100h send email fund-onboarding',
      '+100h send sms fund-csat',
      '+101h send email fund-dca-welcome',
      '+300h task market-reassurance',
    ]);
  });

  it('ends when everything is redeemed, and on opt-out', () => {
    expect(story('fund-dca', 'young', [ev(1, 'fund.redeemed_all')], D).state).toMatchObject({ status: 'exited', endReason: 'redeemed' });
    expect(story('fund-dca', 'young', [ev(1, 'customer.opted_out')], D).state).toMatchObject({ status: 'exited', endReason: 'opted_out' });
  });
});

describe('insurance-event', () => {
  const eventAt = h(10 * D);
  it('an aspiring young customer: automated nudges to the policy and a referral', () => {
    const { lines, state } = story(
      'insurance-event',
      'young',
      [
        ev(0, 'insurance.invited', { eventCode: 'E1', eventAt }),
        ev(4 * D, 'insurance.registered', { eventAt }),
        ev(10 * D, 'insurance.attended'),
        ev(10 * D + 1, 'feedback.answered', { survey: 'nps', score: 9 }),
        ev(20 * D, 'insurance.application_submitted'),
        ev(25 * D, 'insurance.policy_issued'),
        ev(60 * D, 'customer.referred'),
      ],
      100 * D,
    );
    expect(lines).toEqual([
      '+0h stage invited',
      '+0h send email insurance-invitation',
      '+72h send sms insurance-registration-nudge',
      '+96h stage registered',
      '+96h send sms insurance-registration-confirmed',
      '+216h send sms insurance-event-reminder',
      '+240h stage attended',
      '+240h send sms insurance-nps',
      '+241h feedback {"survey":"nps","template":"insurance-nps","score":9}',
      '+288h send email insurance-follow-up',
      '+480h stage underwriting',
      '+600h goal {"goal":"policy_issued"}',
      '+600h send email insurance-policy-welcome',
      '+1320h stage referral',
      '+1320h send email insurance-referral-invite',
      '+1440h goal {"goal":"referral"}',
      '+1440h end completed referral',
    ]);
    expect(state.goals).toEqual(['policy_issued', 'referral']);
  });

  it('a new affluent customer: the agent invites and follows up personally; the outcome moves the journey', () => {
    const { lines, state } = story(
      'insurance-event',
      'new_affluent',
      [
        ev(0, 'insurance.invited', { eventCode: 'E1', eventAt }),
        ev(5 * D, 'insurance.registered', { eventAt }),
        ev(10 * D, 'insurance.attended'),
        ev(10 * D + 5, 'task.completed', { taskKey: 'needs-discovery', outcome: 'interested' }),
      ],
      30 * D,
    );
    expect(lines.filter((l) => / task | stage /.test(l))).toEqual([
      '+0h stage invited',
      '+72h task personal-invite',
      '+120h stage registered',
      '+240h stage attended',
      '+240h task needs-discovery',
      '+245h stage needs_discovery',
    ]);
    expect(state.stage).toBe('needs_discovery');
  });

  it('an agent\'s "closed" ends the journey', () => {
    const { state } = story(
      'insurance-event',
      'new_affluent',
      [ev(0, 'insurance.invited', { eventCode: 'E1', eventAt }), ev(1, 'insurance.attended'), ev(2, 'task.completed', { taskKey: 'needs-discovery', outcome: 'closed' })],
      30 * D,
    );
    expect(state).toMatchObject({ status: 'exited', endReason: 'not_interested' });
  });
});

describe('lifecycle', () => {
  it('awareness to loyalty: an A/B reminder, thanks, a satisfaction question, a referral', () => {
    const { lines, state } = story(
      'lifecycle',
      'young',
      [ev(1, 'product.viewed'), ev(5 * D, 'product.purchased'), ev(13 * D, 'feedback.answered', { survey: 'csat', score: 5 }), ev(20 * D, 'customer.referred')],
      40 * D,
    );
    expect(lines).toEqual([
      '+0h stage awareness',
      '+1h stage consideration',
      `+73h split {"split":"consideration-channel","variant":"${state.variants!['consideration-channel']}"}`,
      `+73h send ${state.variants!['consideration-channel']} lifecycle-consideration`,
      '+120h stage purchase',
      '+120h goal {"goal":"purchased"}',
      '+120h send email lifecycle-thanks',
      '+288h stage service',
      '+288h send email lifecycle-csat',
      '+312h feedback {"survey":"csat","template":"lifecycle-csat","score":5}',
      '+312h stage loyalty',
      '+312h send email lifecycle-referral-ask',
      '+480h goal {"goal":"advocate"}',
      '+480h end completed advocate',
    ]);
  });

  it('a dissatisfied answer does not ask for a referral', () => {
    const { lines } = story('lifecycle', 'young', [ev(1, 'product.purchased'), ev(8 * D, 'feedback.answered', { survey: 'csat', score: 2 })], 20 * D);
    expect(lines.some((l) => l.includes('referral-ask'))).toBe(false);
    expect(lines.at(-1)).toBe(`+${8 * D}h feedback {"survey":"csat","template":"lifecycle-csat","score":2}`);
  });
});

describe('bank-loan', () => {
  it('a renewed loan invites the customer to fund-dca', () => {
    const { lines } = story('bank-loan', 'young', [ev(1, 'loan.approved', { limit: 1, expiresAt: h(400 * D) }), ev(2, 'loan.renewed')], 5 * D);
    expect(lines.slice(-3)).toEqual(['+2h goal {"goal":"renewed"}', '+2h chorus startJourney fund-dca', '+2h end completed renewed']);
  });
});
