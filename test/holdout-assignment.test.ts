// Who is held out: a pure function of the salt, the customer id and the journey key — the same answer every time, about
// the configured share of customers, the global group the same for every marketing journey and never a service one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { assignHoldout, type ControlGroup, holdoutPoint } from '../service/holdouts.js';

const marketing = (key: string, percent?: number) => ({ key, tags: ['marketing'], ...(percent !== undefined ? { holdout: { percent } } : {}) });
const ids = (n: number, prefix = 'cust-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const share = (n: number, pick: (id: string) => boolean) => ids(n).filter(pick).length / n;

describe('holdout assignment', () => {
  it('gives the same customer the same answer, whatever else was asked before', () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ min: 0.01, max: 50, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true }), (customerId, own, global) => {
        const group: ControlGroup = { percent: global, salt: 's1' };
        const first = assignHoldout(marketing('j', own), customerId, group);
        assignHoldout(marketing('other', own), `${customerId}x`, group);
        expect(assignHoldout(marketing('j', own), customerId, { ...group })).toEqual(first);
      }),
    );
  });

  it('places points in [0, 100)', () => {
    fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), (parts) => holdoutPoint(parts) >= 0 && holdoutPoint(parts) < 100));
  });

  it.each([1, 10, 25, 50])("holds out about %s%% of customers by the journey's own holdout", (percent) => {
    const rate = share(20_000, (id) => assignHoldout(marketing('fund-dca', percent), id)?.cohort === 'control');
    // 20 000 draws: the standard error at 50 % is 0.35 points; 1.5 points is more than four of them.
    expect(Math.abs(rate * 100 - percent)).toBeLessThan(1.5);
  });

  it('holds out about the global percent of customers, the same ones for every marketing journey', () => {
    const group = { percent: 10, salt: 'holdout-v1' };
    const heldA = ids(20_000).filter((id) => assignHoldout(marketing('fund-dca'), id, group)?.cohort === 'control');
    const heldB = ids(20_000).filter((id) => assignHoldout(marketing('lifecycle'), id, group)?.cohort === 'control');
    expect(Math.abs((heldA.length / 20_000) * 100 - 10)).toBeLessThan(1.5);
    expect(heldB).toEqual(heldA);
    for (const id of heldA.slice(0, 50)) expect(assignHoldout(marketing('fund-dca', 20), id, group)).toEqual({ cohort: 'control', source: 'global', percent: 10 });
  });

  it("draws the journey's own holdout independently of other journeys' (not the same customers each time)", () => {
    const a = new Set(ids(20_000).filter((id) => assignHoldout(marketing('fund-dca', 20), id)?.cohort === 'control'));
    const both = ids(20_000).filter((id) => a.has(id) && assignHoldout(marketing('lifecycle', 20), id)?.cohort === 'control').length;
    // Independent draws: 20 % of 20 % = 4 % of customers are held out of both (800 of 20 000), not all 4 000.
    expect(both).toBeGreaterThan(600);
    expect(both).toBeLessThan(1000);
  });

  it('combines the global group and the journey holdout: control if either holds the customer out', () => {
    const group = { percent: 10, salt: 'holdout-v1' };
    const rate = share(20_000, (id) => assignHoldout(marketing('fund-dca', 20), id, group)?.cohort === 'control');
    // 1 − 0.9 × 0.8 = 28 %.
    expect(Math.abs(rate * 100 - 28)).toBeLessThan(1.5);
  });

  it('never holds a customer out of a service journey, nor of an untagged one by the global group', () => {
    const group = { percent: 50, salt: 'holdout-v1' };
    for (const id of ids(500)) {
      expect(assignHoldout({ key: 'repay', tags: ['service'] }, id, group)).toBeUndefined();
      expect(assignHoldout({ key: 'repay', tags: ['marketing', 'service'], holdout: { percent: 50 } }, id, group)).toBeUndefined();
      expect(assignHoldout({ key: 'loan', tags: ['lending'] }, id, group)).toBeUndefined();
    }
  });

  it('says nothing when no holdout applies, and names the holdout that decided a treated customer', () => {
    expect(assignHoldout(marketing('fund-dca'), 'c1')).toBeUndefined();
    expect(assignHoldout(marketing('fund-dca'), 'c1', { percent: 0, salt: 'x' })).toBeUndefined();
    const treated = ids(50)
      .map((id) => assignHoldout(marketing('fund-dca', 5), id, { percent: 5, salt: 'holdout-v1' }))
      .find((h) => h?.cohort === 'treated');
    expect(treated).toEqual({ cohort: 'treated', source: 'journey', percent: 5 });
    const globalOnly = ids(50)
      .map((id) => assignHoldout(marketing('fund-dca'), id, { percent: 5, salt: 'holdout-v1' }))
      .find((h) => h?.cohort === 'treated');
    expect(globalOnly).toEqual({ cohort: 'treated', source: 'global', percent: 5 });
  });

  it('draws a new group under a new salt', () => {
    const under = (salt: string) => ids(5_000).filter((id) => assignHoldout(marketing('fund-dca'), id, { percent: 10, salt })?.cohort === 'control');
    const a = new Set(under('2026'));
    const overlap = under('2027').filter((id) => a.has(id)).length;
    expect(overlap).toBeLessThan(a.size / 2);
  });

  it('is SHA-256 of the JSON parts, as the README documents (a fixed point, so the draw cannot change unnoticed)', async () => {
    const { createHash } = await import('node:crypto');
    const hex = createHash('sha256').update('["holdout-v1","global","c-42"]').digest('hex').slice(0, 13);
    expect(holdoutPoint(['holdout-v1', 'global', 'c-42'])).toBe((parseInt(hex, 16) / 2 ** 52) * 100);
  });
});

describe('CONTROL_GROUP_PERCENT', () => {
  it('defaults to no global group', () => {
    expect(loadConfig({}).controlGroup).toEqual({ percent: 0, salt: 'holdout-v1' });
  });

  it('reads a percent and a salt', () => {
    expect(loadConfig({ CONTROL_GROUP_PERCENT: '2.5', HOLDOUT_SALT: '2027' }).controlGroup).toEqual({ percent: 2.5, salt: '2027' });
  });

  it.each(['-1', '51', 'ten'])('refuses %s', (v) => {
    expect(() => loadConfig({ CONTROL_GROUP_PERCENT: v })).toThrow(/CONTROL_GROUP_PERCENT/);
  });
});
