// The engine alone: a 365-day loan journey with several hundred events through the pure engine (`simulate`). Its
// event count is also the bench's "journey-year" (see run.ts, planning figures).
import { resolveParams } from '../engine/definition.js';
import { simulate } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';
import { round } from './lib.js';

export interface EngineResult {
  events: number;
  days: number;
  commandsPerJourney: number;
  msPerJourney: number;
}

export function loanYear(runs = 50): EngineResult {
  const loan = loadBuiltIn('bank-loan');
  const params = resolveParams(loan);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const day = 86_400_000;
  const inputs: { at: number; type: string; data: Record<string, unknown> }[] = [
    { at: start + day, type: 'loan.stage_changed', data: { stage: 'comparison' } },
    { at: start + 3 * day, type: 'loan.application_started', data: {} },
    { at: start + 4 * day, type: 'loan.approved', data: { limit: 50000, expiresAt: new Date(start + 360 * day).toISOString() } },
    { at: start + 5 * day, type: 'loan.drawdown', data: { amount: 1000 } },
  ];
  for (let i = 0; i < 400; i++) {
    const at = start + 6 * day + i * 20 * 3_600_000;
    inputs.push(
      i % 4 === 0
        ? { at, type: 'loan.repayment_due', data: { dueAt: new Date(at + 10 * day).toISOString() } }
        : {
            at,
            type: i % 4 === 1 ? 'loan.repaid' : 'loan.stage_changed',
            data: (i % 4 === 1 ? { dueAt: new Date(at - 20 * 3_600_000 + 10 * day).toISOString() } : { stage: 'repayment' }) as Record<string, unknown>,
          },
    );
  }
  const script = inputs.map((e, i) => ({
    at: new Date(e.at).toISOString(),
    input: { type: 'event' as const, event: { eventId: `x${i}`, type: e.type, occurredAt: new Date(e.at).toISOString(), data: e.data } },
  }));
  const t0 = performance.now();
  let commands = 0;
  for (let i = 0; i < runs; i++)
    commands = simulate(loan, { customerId: `c${i}`, params, start: new Date(start).toISOString(), until: new Date(start + 365 * day).toISOString(), inputs: script }).timeline
      .length;
  return { events: script.length, days: 365, commandsPerJourney: commands, msPerJourney: round((performance.now() - t0) / runs, 2) };
}
