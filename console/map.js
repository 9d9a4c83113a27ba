// The journey map as a Mermaid flowchart, drawn from the definition: the stages in order (with how many journeys are
// in each now), and what each trigger and stage does — waits, sends, tasks, goals, exits (with how many journeys wait
// at each step now). Mermaid lays it out; we only say what is connected to what.
import { stageLabel, t } from './i18n.js';

const esc = (s) => String(s).replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
/** The kinds the map draws a node for (engine/kinds/: each kind's `map.drawn`; test/kind-registry.test.ts holds them together). */
export const SHOWN = new Set(['wait', 'send', 'task', 'feedback', 'goal', 'exit', 'complete', 'branch', 'split', 'delay', 'delayUntil', 'startJourney']);

function describe(step) {
  switch (step.type) {
    case 'wait':
      return `${t('mapWait')}: ${step.for.map((f) => f.event).join(' / ')}`;
    case 'send':
      return `${step.channel}: ${step.template}`;
    case 'feedback':
      return `${step.survey.toUpperCase()} (${step.channel})`;
    case 'task':
      return `${t('mapTask')}: ${step.title}`;
    case 'goal':
      return `${t('goal')}: ${step.key}`;
    case 'exit':
      return `${t('mapExit')}: ${step.reason}`;
    case 'complete':
      return `${t('mapComplete')}${step.reason ? `: ${step.reason}` : ''}`;
    case 'branch':
      return t('mapBranch');
    case 'split':
      return `A/B: ${step.key}`;
    case 'delay':
    case 'delayUntil':
      return t('mapDelay');
    case 'startJourney':
      return `→ ${step.journeyKey}`;
    default:
      return step.type;
  }
}

/** Children lists of a step, as the engine walks them (each kind's `arms` in engine/kinds/), for the steps the map
 * shows. */
function children(step) {
  const out = [];
  if (step.type === 'wait') {
    step.for.forEach((f, i) => f.then && out.push([`for[${i}].then`, f.then]));
    if (step.onTimeout) out.push(['onTimeout', step.onTimeout]);
  }
  if (step.type === 'task' && step.outcomes) for (const [k, l] of Object.entries(step.outcomes)) out.push([`outcomes.${k}`, l]);
  if (step.type === 'feedback') {
    if (step.onAnswer) out.push(['onAnswer', step.onAnswer]);
    if (step.onTimeout) out.push(['onTimeout', step.onTimeout]);
  }
  if (step.type === 'branch') {
    step.cases.forEach((c, i) => c.steps && out.push([`cases[${i}].steps`, c.steps]));
    if (step.otherwise) out.push(['otherwise', step.otherwise]);
  }
  if (step.type === 'split') step.variants.forEach((v, i) => v.steps && out.push([`variants[${i}].steps`, v.steps]));
  return out;
}

/** Every step's reference (its id, else its path: the analytics API names waiting steps so) → what it does. */
export function stepLabels(def) {
  const out = {};
  const walk = (list, path) =>
    (list ?? []).forEach((step, i) => {
      const here = `${path}[${i}]`;
      out[step.id ?? here] = describe(step);
      for (const [sub, l] of children(step)) walk(l, `${here}.${sub}`);
    });
  def.stages.forEach((s, i) => walk(s.onEnter, `stages[${i}].onEnter`));
  def.triggers.forEach((tr, i) => walk(tr.steps, `triggers[${i}].steps`));
  return out;
}

/**
 * @param def the journey definition
 * @param counts {stages: {[stage]: current}, steps: {[stepIdOrPath]: waiting}} (may be empty)
 */
export function journeyMap(def, counts = { stages: {}, steps: {} }) {
  const lines = ['flowchart LR'];
  const sid = (k) => `S_${k.replace(/[^A-Za-z0-9_]/g, '_')}`;
  let n = 0;
  const stageNode = (s) => {
    // Without live counts (the analytics API not answering) the map still shows the journey's shape.
    const c = counts.stages[s.key];
    return `${sid(s.key)}["<b>${esc(stageLabel(s.label))}</b>${c !== undefined ? `<br/>${c} ${esc(t('inStage'))}` : ''}"]`;
  };
  def.stages.forEach((s) => lines.push(`  ${stageNode(s)}`));
  for (let i = 1; i < def.stages.length; i++) lines.push(`  ${sid(def.stages[i - 1].key)} --> ${sid(def.stages[i].key)}`);

  // Steps hang off what runs them; a stage step draws an edge to its stage.
  const walk = (list, from, path, edge) => {
    let prev = from;
    let label = edge;
    (list ?? []).forEach((step, i) => {
      const here = `${path}[${i}]`;
      if (step.type === 'stage' && step.stage) {
        lines.push(`  ${prev} -.${label ? `"${esc(label)}"` : ''}.-> ${sid(step.stage)}`);
        label = undefined;
        return;
      }
      if (!SHOWN.has(step.type)) return;
      const id = `N${++n}`;
      const waiting = counts.steps[step.id ?? ''] ?? counts.steps[here];
      const text = `${esc(describe(step))}${waiting ? `<br/><i>${waiting} ${esc(t('waiting'))}</i>` : ''}`;
      lines.push(`  ${id}(["${text}"])`);
      lines.push(label ? `  ${prev} -.${`"${esc(label)}"`}.-> ${id}` : `  ${prev} -.-> ${id}`);
      lines.push(`  class ${id} step`);
      for (const [sub, l] of children(step)) walk(l, id, `${here}.${sub}`, sub.replace(/^outcomes\./, '').replace(/\[\d+\]\.(then|steps)$/, ''));
      prev = id;
      label = undefined;
    });
  };
  def.stages.forEach((s, i) => walk(s.onEnter, sid(s.key), `stages[${i}].onEnter`));
  def.triggers.forEach((tr, i) => {
    const id = `T${i}`;
    lines.push(`  ${id}{{"${esc(tr.event)}"}}`);
    lines.push(`  class ${id} trigger`);
    walk(tr.steps, id, `triggers[${i}].steps`);
  });
  lines.push(`  class ${def.stages.map((s) => sid(s.key)).join(',')} stage`);
  lines.push('  classDef stage fill:#dbeafe,stroke:#1d4ed8,color:#1e3a8a,stroke-width:2px');
  lines.push('  classDef step fill:#f6f8fa,stroke:#9aa4b2,color:#1f2937');
  lines.push('  classDef trigger fill:#fff7e6,stroke:#e3a008,color:#1f2937');
  return lines.join('\n');
}
