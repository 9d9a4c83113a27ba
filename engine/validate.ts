// Static validation of a journey definition before it is published: what the schema alone cannot see. Pure; the
// caller says which templates, event types and journeys exist.
import type { ChannelName } from './channels.js';
import { childLists, type DurationRef, type JourneyDefinition, type Step, walkSteps } from './definition.js';
import { DEFAULT_DURATION_LIMITS, type DurationLimits, durationMs } from './duration.js';
import { ENDING_KINDS, kindOf } from './kinds/index.js';
import { durationProblems, formatPath } from './steps.js';

export { formatPath };

export interface Problem {
  path: string;
  message: string;
}

export interface ValidationContext {
  hasTemplate(key: string, channel: ChannelName): boolean;
  /** Event types business systems (or other journeys) send. */
  knownEvents: ReadonlySet<string>;
  /** Journey keys that exist, for chorus steps; omitted → not checked. */
  journeyKeys?: ReadonlySet<string>;
  /** The variables (paths) a template reads; with `eventFields`, templates are checked against what they can see. */
  templateVariables?(key: string, channel: ChannelName): string[][];
  /** The data fields an event type carries (from the event catalog); undefined → unknown type, not checked. */
  eventFields?(type: string): string[] | undefined;
  /** Bounds on durations (the configured maximum); omitted → the defaults. */
  durationLimits?: DurationLimits;
}

/** The variables every template may read besides `event.*` and `params.*`. */
export const CUSTOMER_VARIABLES = ['id', 'name', 'locale', 'timeZone', 'segment', 'attributes'];

/** Whether a step always lets time pass before the flow goes on: a loop through it cannot spin (its kind says; a
 * zero-length delay or timeout does not). */
function waits(s: Step, def: JourneyDefinition): boolean {
  const positive = (ref: DurationRef) => {
    const text = typeof ref === 'string' ? ref : Object.hasOwn(def.params, ref.param) ? def.params[ref.param]!.default : undefined;
    return typeof text === 'string' && durationMs(text) > 0;
  };
  return kindOf(s).alwaysWaits(s, positive);
}
/** Kinds after which nothing in the same list runs (exit, complete, goto). */
const ENDS = ENDING_KINDS;

/** The tags that decide who a control group may hold out: the global group holds customers out of `marketing`
 * journeys only, and nothing ever holds them out of a `service` journey. */
export const MARKETING_TAG = 'marketing';
export const SERVICE_TAG = 'service';

function walkAny(def: JourneyDefinition, test: (s: Step) => boolean): boolean {
  let found = false;
  walkSteps(def, (s) => {
    found ||= test(s);
  });
  return found;
}

export function validateDefinition(def: JourneyDefinition, ctx: ValidationContext): Problem[] {
  const problems: Problem[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path: formatPath(path), message });

  // Durations within the configured limits (the schema holds only the hard bounds).
  for (const p of durationProblems(def, ctx.durationLimits ?? DEFAULT_DURATION_LIMITS)) add(p.path, p.message);

  // Step ids, goto targets, templates, chorus targets, stages entered.
  const ids = new Map<string, (string | number)[]>();
  const entered = new Set([def.initialStage]);
  let stageFromEvent = false;
  const sentHere = new Set<string>();
  walkSteps(def, (s, path) => {
    if (s.id !== undefined) {
      if (ids.has(s.id)) add(path, `step id "${s.id}" is used twice`);
      else ids.set(s.id, path);
    }
    const uses = kindOf(s).uses(s);
    if (typeof uses.enters === 'string') entered.add(uses.enters);
    else if (uses.enters !== undefined) stageFromEvent = true;
    const touch = uses.touch;
    if (touch?.action === 'send' && !ctx.hasTemplate(touch.template, touch.channel)) add(path, `template "${touch.template}" does not exist for ${touch.channel}`);
    if (uses.journey !== undefined && ctx.journeyKeys) {
      const target = uses.journey;
      if (!ctx.journeyKeys.has(target) && target !== def.key) add(path, `journey "${target}" does not exist`);
    }
    if (uses.sends !== undefined) sentHere.add(uses.sends);
  });
  walkSteps(def, (s, path) => {
    const target = kindOf(s).uses(s).target;
    if (target !== undefined && !ids.has(target)) add(path, `goto target "${target}" does not exist`);
  });
  if (!stageFromEvent)
    def.stages.forEach((st, i) => {
      if (!entered.has(st.key)) add(['stages', i], `stage "${st.key}" is never entered`);
    });

  // Steps after an exit, a completion or a goto in the same list never run.
  const checkList = (list: Step[] | undefined, path: (string | number)[]) =>
    list?.forEach((s, i) => {
      if (ENDS.has(s.type) && i < list.length - 1) add([...path, i + 1], `unreachable: nothing after "${s.type}" at ${formatPath([...path, i])} runs`);
      for (const [sub, l] of childLists(s)) checkList(l, [...path, i, ...sub]);
    });
  def.stages.forEach((s, i) => checkList(s.onEnter, ['stages', i, 'onEnter']));
  def.triggers.forEach((t, i) => checkList(t.steps, ['triggers', i, 'steps']));

  // A loop must wait somewhere, or it would spin: from the goto's target, the goto must not be reachable along
  // steps that do not wait.
  loops(def, ids, (gotoPath, target) => add(gotoPath, `loop without a wait: "goto ${target}" can come round again without waiting`));

  // Events the journey listens for must be sent by something.
  const known = (e: string) => ctx.knownEvents.has(e) || sentHere.has(e);
  const listen = (e: string, path: (string | number)[]) => {
    if (!known(e)) add(path, `no system sends "${e}"`);
  };
  def.triggers.forEach((t, i) => listen(t.event, ['triggers', i, 'event']));
  def.exits.forEach((x, i) => listen(x.event, ['exits', i, 'event']));
  def.goals.forEach((g, i) => g.event && listen(g.event, ['goals', i, 'event']));
  def.entry.events.forEach((e, i) => listen(e.event, ['entry', 'events', i, 'event']));
  walkSteps(def, (s, path) => {
    for (const l of kindOf(s).uses(s).listens ?? []) listen(l.event, [...path, ...l.at]);
  });
  if (ctx.templateVariables && ctx.eventFields) checkTemplateVariables(def, ctx, add);

  // A holdout is there to measure the journey's goals against a control group; a service journey (a repayment
  // reminder, a failed contribution) is owed to every customer and is never held out.
  if (def.holdout) {
    if (def.tags.includes(SERVICE_TAG)) add(['holdout'], `a journey tagged "${SERVICE_TAG}" is never held out: its messages are owed to every customer`);
    if (def.goals.length === 0 && !walkAny(def, (s) => kindOf(s).uses(s).goal === true)) add(['holdout'], 'a holdout measures goals, and this journey has none');
  }
  return problems;
}

/**
 * A template must read only what the send can give it: the customer's non-contact fields, the journey's params, and
 * fields that every event the step can run after carries (a step with no event, such as a stage's entry step, has no
 * `event.*`). Missing variables fail here, at publish time, not at send time.
 */
function checkTemplateVariables(def: JourneyDefinition, ctx: ValidationContext, add: (path: (string | number)[], message: string) => void) {
  const NONE = '(no event)';
  const visit = (list: Step[] | undefined, path: (string | number)[], current: Set<string>): Set<string> => {
    let now = current;
    list?.forEach((s, i) => {
      const here = [...path, i];
      const kind = kindOf(s);
      const touch = kind.uses(s).touch;
      if (touch?.action === 'send') {
        const t = touch;
        for (const segs of ctx.templateVariables!(t.template, t.channel)) {
          const [root, field] = segs;
          const name = segs.join('.');
          if (root === 'customer') {
            if (field !== undefined && !CUSTOMER_VARIABLES.includes(field)) add(here, `template "${t.template}" uses ${name}, which is not a customer field a message may use`);
          } else if (root === 'params') {
            if (field === undefined || !Object.hasOwn(def.params, field)) add(here, `template "${t.template}" uses ${name}, which is not a parameter of "${def.key}"`);
          } else if (root === 'event') {
            for (const ev of now) {
              if (ev === NONE) add(here, `template "${t.template}" uses ${name}, but this step runs without an event`);
              else {
                const fields = ctx.eventFields!(ev);
                if (fields && field !== undefined && !fields.includes(field)) add(here, `template "${t.template}" uses ${name}, which "${ev}" does not carry`);
              }
            }
          } else add(here, `template "${t.template}" uses ${name}: templates read customer.*, event.* and params.*`);
        }
      }
      // After the step the flow goes on with the event it was resumed by, or with what its arms ran with: an arm runs
      // with the event it waited for, or the flow's own.
      const arms = kind.arms(s);
      const resumed = kind.resumedBy(s);
      if (arms.length || resumed.length) {
        const after = new Set([...now, ...resumed]);
        for (const a of arms) visit(a.steps, [...here, ...a.path], a.event !== undefined ? new Set([a.event]) : now).forEach((e) => after.add(e));
        now = after;
      }
    });
    return now;
  };
  def.stages.forEach((s, i) => visit(s.onEnter, ['stages', i, 'onEnter'], new Set([NONE])));
  def.triggers.forEach((t, i) => visit(t.steps, ['triggers', i, 'steps'], new Set([t.event])));
}

/** Calls `found` for each goto that can reach itself again without passing a waiting step. */
function loops(def: JourneyDefinition, ids: Map<string, (string | number)[]>, found: (path: (string | number)[], target: string) => void) {
  // Index steps by path, with their successor lists, mirroring the engine's compiled layout.
  type Node = { step: Step; path: (string | number)[]; succ: Node[] };
  const byPath = new Map<string, Node>();
  const build = (list: Step[] | undefined, path: (string | number)[], after: Node | undefined): Node | undefined => {
    if (!list?.length) return after;
    const nodes: Node[] = list.map((step, i) => ({ step, path: [...path, i], succ: [] }));
    nodes.forEach((n, i) => {
      byPath.set(formatPath(n.path), n);
      const next = nodes[i + 1] ?? after;
      const arms = childLists(n.step).map(([sub, l]) => build(l, [...n.path, ...sub], next));
      if (!ENDS.has(n.step.type)) {
        for (const a of arms) if (a) n.succ.push(a);
        // Every step that does not end its list may continue to the next one: a plain step, and a step with arms that
        // may fall through (a branch without otherwise, a task without a matching outcome, a wait's empty arm).
        if (next) n.succ.push(next);
      }
    });
    return nodes[0];
  };
  def.stages.forEach((s, i) => build(s.onEnter, ['stages', i, 'onEnter'], undefined));
  def.triggers.forEach((t, i) => build(t.steps, ['triggers', i, 'steps'], undefined));
  for (const n of byPath.values()) {
    const jump = kindOf(n.step).uses(n.step).target;
    if (jump === undefined) continue;
    const targetPath = ids.get(jump);
    const target = targetPath && byPath.get(formatPath(targetPath));
    if (!target) continue;
    const seen = new Set<Node>();
    const stack = [target];
    let cycle = false;
    while (stack.length && !cycle) {
      const x = stack.pop()!;
      if (x === n) cycle = true;
      else if (!seen.has(x) && !waits(x.step, def)) {
        seen.add(x);
        stack.push(...x.succ);
      }
    }
    if (cycle) found(n.path, jump);
  }
}
