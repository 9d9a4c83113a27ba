// Simulation: a definition run in virtual time for a scripted customer, with no Temporal and no sends. The same
// engine the workflow drives, so the timeline is what the journey would do.
import type { z } from 'zod';
import { type JourneyDefinition, ParamsError, resolveParams } from '../engine/definition.js';
import { describe, simulate, type TimelineEntry } from '../engine/simulate.js';
import type { DefinitionStore } from './definitions.js';
import { ApiError, notFound } from './errors.js';
import type { SimulateBody } from './schemas.js';

export async function runSimulation(definitions: DefinitionStore, body: z.infer<typeof SimulateBody>) {
  let def: JourneyDefinition;
  if (body.definition !== undefined) def = definitions.parse(body.definition);
  else if (body.version !== undefined) def = (await definitions.get(body.key!, body.version)).definition;
  else {
    const stored = await definitions.latestPublished(body.key!);
    if (!stored) throw notFound('journey', body.key!);
    def = stored.definition;
  }
  let params;
  try {
    params = resolveParams(def, body.params ?? {});
  } catch (err) {
    if (err instanceof ParamsError) throw new ApiError(400, 'invalid_params', err.message, err.problems);
    throw err;
  }
  const startAt = body.start ?? new Date().toISOString();
  if (Date.parse(body.until) <= Date.parse(startAt)) throw new ApiError(400, 'invalid_request', '"until" must be after "start"');
  const customerId = body.customer.id ?? 'simulated-customer';
  const { attributes, segment, timeZone, locale } = body.customer;
  const started = performance.now();
  const r = simulate(def, {
    customerId,
    params,
    profile: { ...(segment !== undefined ? { segment } : {}), ...(timeZone ? { timeZone } : {}), ...(locale ? { locale } : {}), ...(attributes ? { attributes } : {}) },
    start: new Date(startAt).toISOString(),
    until: new Date(body.until).toISOString(),
    inputs: body.events.map((e, i) => ({
      at: new Date(e.at).toISOString(),
      input: { type: 'event', event: { eventId: e.eventId ?? `sim-${i + 1}`, type: e.type, occurredAt: new Date(e.at).toISOString(), data: e.data ?? {} } },
    })),
  });
  const timeline: TimelineEntry[] = r.timeline.map((t) => describe(t.command, t.at));
  return {
    journeyKey: def.key,
    version: def.version,
    status: r.state.status,
    stage: r.state.stage,
    ...(r.state.endReason ? { endReason: r.state.endReason, endedAt: r.state.endedAt } : {}),
    goals: r.state.goals ?? [],
    variants: r.state.variants ?? {},
    stages: r.state.stageHistory,
    timeline,
    timers: r.timers,
    messages: timeline.filter((t) => t.kind === 'send'),
    tasks: timeline.filter((t) => t.kind === 'task'),
    pending: { waitingFor: [...new Set(r.state.flows.flatMap((f) => (f.waiting?.kind === 'event' ? f.waiting.events : [])))], nextTimers: r.state.flows.flatMap((f) => (f.waiting?.until ? [{ flow: f.name, until: f.waiting.until }] : [])) },
    stats: { inputs: r.steps, ms: Math.round((performance.now() - started) * 100) / 100 },
  };
}
