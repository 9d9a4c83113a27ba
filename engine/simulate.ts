// Runs the engine in virtual time: a scripted customer's events in order, with every timer fired at its instant.
// No Temporal, no sends. The same function the workflow drives, so what it shows is what the workflow does.
import type { JourneyDefinition, ParamValues } from './definition.js';
import { advance, type Command, type Input, type JourneyState, nextWakeAt, start } from './engine.js';

export interface ScriptedInput {
  at: string;
  input: Input;
}

export interface SimulationResult {
  state: JourneyState;
  timeline: { at: string; command: Command }[];
}

export function simulate(
  def: JourneyDefinition,
  opts: { instanceId?: string; customerId: string; params: ParamValues; start: string; until: string; inputs: ScriptedInput[] },
): SimulationResult {
  const timeline: SimulationResult['timeline'] = [];
  const record = (commands: Command[], at: string) => commands.forEach((command) => timeline.push({ at, command }));
  const first = start(def, { instanceId: opts.instanceId ?? `sim:${def.key}:${opts.customerId}`, customerId: opts.customerId, params: opts.params }, new Date(opts.start));
  let state = first.state;
  record(first.commands, opts.start);
  const inputs = [...opts.inputs].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const until = Date.parse(opts.until);
  let i = 0;
  for (;;) {
    const wake = nextWakeAt(state);
    const nextInput = inputs[i];
    const wakeMs = wake === undefined ? Infinity : Date.parse(wake);
    const inputMs = nextInput === undefined ? Infinity : Date.parse(nextInput.at);
    const at = Math.min(wakeMs, inputMs);
    if (at === Infinity || at > until || state.status !== 'running') break;
    const now = new Date(at);
    // A timer due at the same instant as an input fires first, as a workflow timer would.
    const input: Input = wakeMs <= inputMs ? { type: 'timer' } : (i++, nextInput!.input);
    const r = advance(def, state, input, now);
    state = r.state;
    record(r.commands, now.toISOString());
  }
  return { state, timeline };
}
