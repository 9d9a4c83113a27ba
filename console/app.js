// The console: sign-in, then the pages the caller's role may see, routed by the URL's hash. Every figure comes from the
// API with the caller's bearer token; nothing is cached beyond this tab's session.
import { currentLang, fmtDuration, fmtTime, initialLang, setLang, stageLabel, t, term } from './i18n.js';
import { finishSignIn, startSignIn } from './oidc.js';
import { journeyMap, stepLabels } from './map.js';

const TOKEN = 'console.token';
const main = document.getElementById('main');
let me;
let config = { oidc: null };

// ---- DOM and API helpers ---------------------------------------------------------------------------------------

/** Builds an element; text children are text nodes (data never becomes markup). */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid !== undefined && kid !== null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const section = (title, ...kids) => h('section', { class: 'card' }, h('h2', {}, title), ...kids);
const empty = () => h('p', { class: 'muted' }, t('noneYet'));
const table = (heads, rows, attrs = {}) =>
  rows.length
    ? h(
        'table',
        attrs,
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            heads.map((x) => h('th', {}, x)),
          ),
        ),
        h('tbody', {}, rows),
      )
    : empty();

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}
async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN)}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
  if (res.status === 401 && me) signOut();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}
/** For endpoints another part of the service may not offer yet: undefined instead of an error. */
const maybe = (path) => api(path).catch(() => undefined);
const enc = encodeURIComponent;
const since = (iso) => (iso ? Date.now() - new Date(iso).getTime() : null);

// ---- sign-in ---------------------------------------------------------------------------------------------------

function signOut() {
  sessionStorage.removeItem(TOKEN);
  me = undefined;
  render();
}

function signInPage(problem) {
  const input = h('input', { type: 'password', id: 'api-key', name: 'api-key', autocomplete: 'current-password', required: true, 'aria-label': t('apiKey') });
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (e) => {
        e.preventDefault();
        sessionStorage.setItem(TOKEN, input.value.trim());
        await render();
      },
    },
    h('h1', {}, t('signInTitle')),
    h('label', { for: 'api-key' }, t('apiKey')),
    input,
    problem ? h('p', { class: 'error', role: 'alert' }, problem) : null,
    h('button', { type: 'submit', class: 'primary' }, t('signIn')),
    config.oidc
      ? [
          h('p', { class: 'muted or' }, t('or')),
          h('button', { type: 'button', id: 'idp', onclick: () => startSignIn(config.oidc).catch((err) => alert(err.message)) }, t('signInIdp')),
        ]
      : null,
  );
  main.replaceChildren(form);
  input.focus();
}

// ---- navigation ------------------------------------------------------------------------------------------------

const PAGES_BY_ROLE = {
  rm: ['customers', 'tasks'],
  ops: ['journeys', 'customers', 'tasks', 'ops'],
  admin: ['journeys', 'customers', 'tasks', 'ops'],
  designer: ['journeys'],
  system: [],
};
const NAV = {
  customers: () => (me.role === 'rm' ? t('navCustomers') : t('navCustomersAll')),
  tasks: () => t('navTasks'),
  journeys: () => t('navJourneys'),
  ops: () => t('navOps'),
};

function drawChrome() {
  document.querySelectorAll('[data-i18n]').forEach((el) => (el.textContent = t(el.dataset.i18n)));
  document.title = `${t('brand')} · console`;
  const nav = document.getElementById('nav');
  const pages = me ? PAGES_BY_ROLE[me.role] : [];
  const here = location.hash.split('/')[1] ?? '';
  nav.replaceChildren(...pages.map((p) => h('a', { href: `#/${p}`, class: here === p ? 'active' : undefined, 'data-page': p }, NAV[p]())));
  document.getElementById('who').textContent = me ? `${me.rmId ?? me.name ?? me.principalId} · ${me.role}` : '';
  document.getElementById('signout').hidden = !me;
}

async function render() {
  drawChrome();
  if (!sessionStorage.getItem(TOKEN)) return signInPage();
  if (!me) {
    try {
      me = await api('/v1/me');
    } catch (err) {
      sessionStorage.removeItem(TOKEN);
      return signInPage(err.status === 401 ? t('badKey') : t('error', { message: err.message }));
    }
  }
  drawChrome();
  // The page and its id are the hash's path; its query (a journey page's filters) is the page's own to read.
  const [, page = '', id, sub] = location.hash.split('?')[0].split('/');
  const pages = PAGES_BY_ROLE[me.role];
  if (!pages.includes(page)) {
    if (pages.length) return void (location.hash = `#/${pages[0]}`);
    return main.replaceChildren(h('p', {}, t('noPages', { role: me.role })));
  }
  main.replaceChildren(h('p', { class: 'muted' }, t('loading')));
  try {
    const view = await PAGES[page](id && decodeURIComponent(id), sub);
    main.replaceChildren(view);
  } catch (err) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, t('error', { message: err.message })));
  }
}

// ---- RM: customers, tasks, the task page -----------------------------------------------------------------------

const stageCell = (journeys) => journeys.filter((j) => j.status === 'running');

async function customersPage(id) {
  if (id) return customer360(id);
  const { customers } = await api('/v1/customers?limit=200');
  if (!customers.length) return section(me.role === 'rm' ? t('navCustomers') : t('navCustomersAll'), h('p', { class: 'muted' }, t('noCustomers')));
  const rows = customers.map((c) => {
    const running = stageCell(c.journeys);
    const lines = (f) => (running.length ? running.map((j) => h('div', {}, f(j))) : t('none'));
    return h(
      'tr',
      { 'data-customer': c.id },
      h('td', {}, h('a', { href: `#/customers/${enc(c.id)}` }, c.name ?? c.id)),
      h(
        'td',
        {},
        lines((j) => j.journeyKey),
      ),
      h(
        'td',
        {},
        lines((j) => h('span', { class: 'badge stage' }, j.stage)),
      ),
      h(
        'td',
        {},
        lines((j) => fmtDuration(since(j.stageEnteredAt))),
      ),
      h(
        'td',
        {},
        c.nextAction
          ? h(
              'a',
              { href: `#/tasks/${enc(c.nextAction.taskId)}`, class: new Date(c.nextAction.dueAt) < new Date() ? 'overdue' : undefined },
              c.nextAction.title,
              ' · ',
              fmtTime(c.nextAction.dueAt),
            )
          : t('none'),
      ),
    );
  });
  return section(
    me.role === 'rm' ? t('navCustomers') : t('navCustomersAll'),
    table([t('name'), t('journeys'), t('stage'), t('timeInStage'), t('nextAction')], rows, { id: 'customers' }),
  );
}

const endOfToday = () => new Date(new Date().setHours(23, 59, 59, 999));
const taskState = (task) => ({
  overdue: task.status === 'open' && new Date(task.dueAt) < new Date(),
  today: task.status === 'open' && new Date(task.dueAt) >= new Date() && new Date(task.dueAt) <= endOfToday(),
  escalated: task.escalatedTo !== null && task.escalatedTo !== undefined,
});

async function tasksPage(id) {
  if (id) return taskPage(id);
  const { tasks } = await api('/v1/tasks?status=open');
  const filter = new URLSearchParams(location.hash.split('?')[1] ?? '').get('show') ?? 'all';
  const shown = tasks.filter((x) => filter === 'all' || taskState(x)[filter]);
  const tabs = h(
    'div',
    { class: 'tabs' },
    ['all', 'overdue', 'today', 'escalated'].map((f) =>
      h(
        'a',
        { href: `#/tasks?show=${f}`, class: f === filter ? 'active' : undefined },
        { all: t('all'), overdue: t('overdue'), today: t('dueToday'), escalated: t('escalated') }[f],
        ` (${tasks.filter((x) => f === 'all' || taskState(x)[f]).length})`,
      ),
    ),
  );
  const rows = shown.map((x) => {
    const s = taskState(x);
    return h(
      'tr',
      { 'data-task': x.id },
      h('td', { class: s.overdue ? 'overdue' : undefined }, fmtTime(x.dueAt)),
      h('td', {}, h('a', { href: `#/tasks/${enc(x.id)}` }, x.title)),
      h('td', {}, x.customerName ?? x.customerId),
      h('td', {}, x.journeyKey ?? t('none')),
      h('td', {}, x.stage ? h('span', { class: 'badge stage' }, x.stage) : t('none')),
      h(
        'td',
        {},
        s.overdue ? h('span', { class: 'badge red' }, t('overdue')) : null,
        s.today ? h('span', { class: 'badge amber' }, t('dueToday')) : null,
        s.escalated ? h('span', { class: 'badge purple' }, t('escalated')) : null,
        s.overdue || s.today || s.escalated ? null : h('span', { class: 'badge' }, t('open')),
      ),
    );
  });
  return section(
    t('navTasks'),
    tabs,
    rows.length ? table([t('due'), t('task'), t('customer'), t('journey'), t('stage'), t('status')], rows, { id: 'tasks' }) : h('p', { class: 'muted' }, t('noTasks')),
  );
}

async function taskPage(id) {
  const task = await api(`/v1/tasks/${enc(id)}`);
  const stageNow = h('span', { class: 'badge stage', id: 'task-stage' }, task.stage ?? t('none'));
  const result = h('p', { id: 'task-result', role: 'status' });
  const note = h('textarea', { id: 'task-note', rows: 3, maxlength: 2000 });
  const outcomes = task.outcomes.length ? task.outcomes : ['done'];
  const buttons = outcomes.map((o) => h('button', { type: 'button', class: 'outcome', 'data-outcome': o, onclick: () => take(o) }, term(o)));
  async function take(outcome) {
    buttons.forEach((b) => {
      b.disabled = true;
      b.classList.toggle('chosen', b.dataset.outcome === outcome);
    });
    const before = task.stage;
    try {
      await api(`/v1/tasks/${enc(id)}/complete`, { method: 'POST', body: JSON.stringify({ outcome, ...(note.value.trim() ? { note: note.value.trim() } : {}) }) });
    } catch (err) {
      buttons.forEach((b) => (b.disabled = false));
      result.textContent = t('error', { message: err.message });
      return;
    }
    result.textContent = t('taskDone', { outcome: term(outcome) });
    // The journey applies the outcome asynchronously: watch the stage for a few seconds.
    for (let i = 0; i < 30; i++) {
      const now = await api(`/v1/tasks/${enc(id)}`);
      stageNow.textContent = now.stage ?? t('none');
      if (now.stage !== before || now.journeyStatus !== 'running') {
        result.textContent = `${t('taskDone', { outcome: term(outcome) })} ${t('stageMoved', { from: before, to: now.stage })}`;
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    result.textContent = `${t('taskDone', { outcome: term(outcome) })} ${t('stageStays', { stage: before })}`;
  }
  const s = taskState(task);
  return h(
    'div',
    { class: 'grid' },
    section(
      task.title,
      h('p', {}, task.description ?? ''),
      h(
        'dl',
        {},
        h('dt', {}, t('customer')),
        h('dd', {}, h('a', { href: `#/customers/${enc(task.customerId)}`, id: 'task-customer' }, task.customerName ?? task.customerId)),
        h('dt', {}, t('journey')),
        h('dd', {}, task.journeyKey ?? t('none')),
        h('dt', {}, t('stageNow')),
        h('dd', {}, stageNow),
        h('dt', {}, t('due')),
        h('dd', { class: s.overdue ? 'overdue' : undefined }, fmtTime(task.dueAt), s.escalated ? h('span', { class: 'badge purple' }, t('escalated')) : null),
      ),
      task.status === 'open'
        ? h('div', { class: 'outcomes' }, h('h3', {}, t('takeOutcome')), h('div', { class: 'buttons' }, buttons), h('label', { for: 'task-note' }, t('note')), note, result)
        : h('p', { id: 'task-result' }, t('closedWith', { outcome: term(task.outcome) })),
    ),
    section(
      t('why'),
      h('h3', {}, t('stageHistory')),
      h(
        'ol',
        { class: 'history' },
        task.stageHistory.map((x) =>
          h('li', {}, h('span', { class: 'badge stage' }, x.stage), ' ', fmtTime(x.enteredAt), x.cause ? h('span', { class: 'muted' }, ` · ${x.cause}`) : null),
        ),
      ),
      h('h3', {}, t('eventsBefore')),
      task.events.length
        ? h(
            'ol',
            { class: 'history' },
            task.events.map((e) => h('li', {}, h('code', {}, e.type), ' ', fmtTime(e.occurredAt))),
          )
        : empty(),
    ),
  );
}

// ---- Customer 360 ----------------------------------------------------------------------------------------------

/** The timeline is paged oldest first: read on to its end (a few pages at most) so the newest entries are shown. */
async function wholeTimeline(id) {
  let page = await maybe(`/v1/customers/${enc(id)}/timeline?limit=2000&lang=${enc(currentLang())}`);
  if (!page) return undefined;
  const entries = [...page.entries];
  for (let i = 0; i < 9 && page?.truncated; i++) {
    page = await maybe(`/v1/customers/${enc(id)}/timeline?limit=2000&lang=${enc(currentLang())}&from=${enc(page.nextFrom)}`);
    entries.push(...(page?.entries ?? []));
  }
  return { entries };
}

async function customer360(id) {
  const [profile, { journeys }, { messages }, { tasks }, timeline] = await Promise.all([
    api(`/v1/customers/${enc(id)}`),
    api(`/v1/customers/${enc(id)}/journeys`),
    api(`/v1/customers/${enc(id)}/messages?limit=50`),
    api(`/v1/tasks?customerId=${enc(id)}`),
    wholeTimeline(id),
  ]);
  const views = await Promise.all(journeys.map((j) => maybe(`/v1/journeys/${enc(j.workflowId)}`)));
  // Contact details are for the customer's RM; others see who the customer is, not how to reach them.
  const contact = me.role === 'rm' || me.role === 'admin';
  const fields = [
    [t('name'), profile.name],
    [t('segment'), profile.segment],
    [t('locale'), profile.locale],
    [t('rm'), profile.rmId],
    ...(contact
      ? [
          [t('email'), profile.email],
          [t('phone'), profile.phone],
        ]
      : []),
  ];
  const feedback = (timeline?.entries ?? []).filter((e) => e.kind === 'feedback');
  return h(
    'div',
    { class: 'grid' },
    section(
      t('profile'),
      h(
        'dl',
        { id: 'profile' },
        fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? t('none'))]),
      ),
    ),
    section(
      t('journeys'),
      journeys.length
        ? journeys.map((j, i) =>
            h(
              'div',
              { class: 'journey' },
              h('h3', {}, j.journeyKey, ' ', h('span', { class: `badge ${j.status}` }, term(j.status))),
              h(
                'ol',
                { class: 'history' },
                (views[i]?.stageHistory ?? []).map((x) => h('li', {}, h('span', { class: 'badge stage' }, x.stage), ' ', fmtTime(x.enteredAt))),
              ),
            ),
          )
        : empty(),
    ),
    section(
      t('messages'),
      table(
        [t('when'), t('channel'), t('template'), t('status'), t('story')],
        messages.map((m) =>
          h(
            'tr',
            {},
            h('td', {}, fmtTime(m.createdAt)),
            h('td', {}, m.channel),
            h('td', {}, m.template),
            h('td', {}, term(m.status)),
            h(
              'td',
              { class: 'story' },
              m.events.map((e) => h('div', {}, `${fmtTime(e.at)} · ${e.type}${e.detail?.reason ? ` (${e.detail.reason})` : ''}`)),
            ),
          ),
        ),
      ),
    ),
    section(
      t('tasks'),
      table(
        [t('due'), t('task'), t('status'), t('outcome')],
        tasks.map((x) =>
          h(
            'tr',
            {},
            h('td', {}, fmtTime(x.dueAt)),
            h('td', {}, h('a', { href: `#/tasks/${enc(x.id)}` }, x.title)),
            h('td', {}, term(x.status)),
            h('td', {}, x.outcome ? term(x.outcome) : t('none')),
          ),
        ),
      ),
    ),
    section(
      t('feedback'),
      feedback.length
        ? h(
            'ul',
            {},
            feedback.map((e) => h('li', {}, `${fmtTime(e.at)} · ${e.summary}`)),
          )
        : empty(),
    ),
    timeline
      ? section(
          t('timeline'),
          h(
            'ol',
            { class: 'timeline', id: 'timeline' },
            timeline.entries.map((e) =>
              h(
                'li',
                { class: `kind-${e.kind}` },
                h('time', {}, fmtTime(e.at)),
                ' ',
                h('span', { class: 'badge' }, e.kind),
                ' ',
                e.journey ? h('code', {}, e.journey.journeyKey) : null,
                ' ',
                e.summary,
              ),
            ),
          ),
        )
      : null,
  );
}

// ---- Journey manager -------------------------------------------------------------------------------------------

async function journeysPage(key) {
  if (key) return journeyPage(key);
  const { definitions } = await api('/v1/journey-definitions');
  return section(
    t('catalogue'),
    h(
      'div',
      { class: 'catalogue', id: 'catalogue' },
      definitions.map((d) =>
        h(
          'a',
          { class: 'tile', href: `#/journeys/${enc(d.key)}`, 'data-journey': d.key },
          h('strong', {}, d.name),
          h('code', {}, d.key),
          h('span', { class: 'muted' }, `${t('version')} ${d.publishedVersion ?? '—'} · ${d.versions.length}`),
        ),
      ),
    ),
  );
}

const PERIODS = { 7: 'last7', 30: 'last30', 90: 'last90', all: 'allTime' };
let mapSeq = 0;

async function journeyPage(key) {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const { definitions } = await api('/v1/journey-definitions');
  const entry = definitions.find((d) => d.key === key);
  if (!entry) throw new Error(key);
  const version = Number(q.get('version') ?? entry.publishedVersion ?? entry.versions.at(-1).version);
  const period = q.get('period') ?? 'all';
  // Segment and A/B variant narrow every figure; empty means all.
  const segment = (q.get('segment') ?? '').trim();
  const variant = (q.get('variant') ?? '').trim();
  const { definition } = await api(`/v1/journey-definitions/${enc(key)}/versions/${version}`);
  const filter = new URLSearchParams({
    version: String(version),
    ...(period !== 'all' ? { from: new Date(Date.now() - Number(period) * 86_400_000).toISOString() } : {}),
    ...(segment ? { segment } : {}),
    ...(variant ? { variant } : {}),
  });
  const a = (what) => (me.role === 'designer' ? Promise.resolve(undefined) : maybe(`/v1/analytics/journeys/${enc(key)}/${what}?${filter}`));
  const [map, funnel, time, breaks, feedback, messages, lift] = await Promise.all(['map', 'funnel', 'time-in-stage', 'breakpoints', 'feedback', 'messages', 'lift'].map(a));
  const labels = Object.fromEntries(definition.stages.map((s) => [s.key, stageLabel(s.label)]));
  const steps = stepLabels(definition);
  const go = (p) => (location.hash = `#/journeys/${enc(key)}?${new URLSearchParams({ version: String(version), period, segment, variant, ...p })}`);

  const filters = h(
    'div',
    { class: 'filters' },
    h(
      'label',
      {},
      t('version'),
      ' ',
      h(
        'select',
        { id: 'version', onchange: (e) => go({ version: e.target.value }) },
        entry.versions.map((v) => h('option', { value: v.version, selected: v.version === version }, `v${v.version} · ${v.status}`)),
      ),
    ),
    h(
      'label',
      {},
      t('period'),
      ' ',
      h(
        'select',
        { id: 'period', onchange: (e) => go({ period: e.target.value }) },
        Object.entries(PERIODS).map(([v, w]) => h('option', { value: v, selected: v === period }, t(w))),
      ),
    ),
    h('label', {}, t('segment'), ' ', h('input', { id: 'segment', value: segment, placeholder: t('all'), size: 10, onchange: (e) => go({ segment: e.target.value.trim() }) })),
    h('label', {}, t('variant'), ' ', h('input', { id: 'variant', value: variant, placeholder: t('all'), size: 6, onchange: (e) => go({ variant: e.target.value.trim() }) })),
  );

  const mapBox = h('div', { class: 'map', id: 'journey-map' });
  const counts = {
    stages: Object.fromEntries((map?.stages ?? []).map((s) => [s.stage, s.current])),
    steps: Object.fromEntries((map?.steps ?? []).map((s) => [s.step, s.waiting])),
  };
  window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', flowchart: { htmlLabels: true, curve: 'basis' } });
  window.mermaid
    .render(`map-${++mapSeq}`, journeyMap(definition, counts))
    .then(({ svg }) => (mapBox.innerHTML = svg)) // Mermaid's own sanitised SVG (securityLevel strict)
    .catch((err) => mapBox.replaceChildren(h('p', { class: 'error' }, err.message)));

  const funnelBox = h('div', { class: 'chart', id: 'funnel-chart' });
  const timeBox = h('div', { class: 'chart', id: 'time-chart' });
  const charts = [];
  if (funnel) {
    charts.push(() => {
      const c = window.echarts.init(funnelBox);
      const stages = funnel.stages;
      c.setOption({
        tooltip: { trigger: 'axis' },
        legend: { top: 0, data: [t('entered'), t('current')] },
        grid: { left: 120, right: 40, top: 36, bottom: 24 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', inverse: true, data: stages.map((s) => labels[s.stage] ?? s.stage) },
        series: [
          { name: t('entered'), type: 'bar', data: stages.map((s) => s.entered), label: { show: true, position: 'right' }, itemStyle: { color: '#2563eb' } },
          { name: t('current'), type: 'bar', data: stages.map((s) => s.current), label: { show: true, position: 'right' }, itemStyle: { color: '#93c5fd' } },
        ],
      });
      return c;
    });
  }
  if (time) {
    charts.push(() => {
      const c = window.echarts.init(timeBox);
      // One unit for the chart, the one that suits its longest bar.
      const longest = Math.max(0, ...time.stages.map((s) => s.p90Ms ?? 0));
      const [unit, per] = longest < 120_000 ? ['s', 1_000] : longest < 7_200_000 ? ['min', 60_000] : longest < 172_800_000 ? ['h', 3_600_000] : ['d', 86_400_000];
      const inUnit = (ms) => (ms === null || ms === undefined ? null : Math.round((ms / per) * 10) / 10);
      c.setOption({
        tooltip: { trigger: 'axis', valueFormatter: (v) => fmtDuration(v * per) },
        legend: { top: 0, data: [t('median'), t('p90')] },
        grid: { left: 50, right: 20, top: 36, bottom: 60 },
        xAxis: { type: 'category', data: time.stages.map((s) => labels[s.stage] ?? s.stage), axisLabel: { interval: 0, rotate: 20 } },
        yAxis: { type: 'value', name: unit },
        series: [
          { name: t('median'), type: 'bar', data: time.stages.map((s) => inUnit(s.medianMs)), itemStyle: { color: '#059669' } },
          { name: t('p90'), type: 'bar', data: time.stages.map((s) => inUnit(s.p90Ms)), itemStyle: { color: '#a7f3d0' } },
        ],
      });
      return c;
    });
  }
  const na = () => h('p', { class: 'muted' }, t('notAvailable'));
  const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)} %`);
  const view = h(
    'div',
    { class: 'journey-page' },
    h('h1', {}, definition.name, ' ', h('code', {}, `${key} v${version}`)),
    filters,
    section(t('map'), mapBox),
    h(
      'div',
      { class: 'grid' },
      section(
        t('funnel'),
        funnel ? funnelBox : na(),
        funnel
          ? table(
              [t('stage'), t('entered'), t('current'), t('converted'), t('median'), t('p90')],
              funnel.stages.map((s) =>
                h(
                  'tr',
                  { 'data-stage': s.stage },
                  h('td', {}, labels[s.stage] ?? s.stage),
                  h('td', {}, s.entered),
                  h('td', {}, s.current),
                  h('td', {}, s.convertedToNext),
                  h('td', {}, fmtDuration(s.medianMsInStage)),
                  h('td', {}, fmtDuration(s.p90MsInStage)),
                ),
              ),
              { id: 'funnel-table' },
            )
          : null,
        funnel?.goals?.length ? h('p', {}, `${t('goals')}: `, funnel.goals.map((g) => `${g.key} ${g.reached}`).join(' · ')) : null,
      ),
      section(t('timeInStage'), time ? timeBox : na()),
    ),
    h(
      'div',
      { class: 'grid' },
      section(
        t('breakpoints'),
        breaks
          ? [
              h('h3', {}, t('stalls')),
              table(
                [t('stage'), t('step'), t('count'), t('median')],
                breaks.stalls.map((s) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, labels[s.stage] ?? s.stage),
                    h('td', {}, s.step ? (steps[s.step] ?? s.step) : t('none')),
                    h('td', {}, s.count),
                    h('td', {}, fmtDuration(s.medianWaitingMs)),
                  ),
                ),
              ),
              h('h3', {}, t('exits')),
              table(
                [t('stage'), t('status'), t('reason'), t('count')],
                breaks.exits.map((s) => h('tr', {}, h('td', {}, labels[s.stage] ?? s.stage), h('td', {}, term(s.status)), h('td', {}, s.reason ?? '—'), h('td', {}, s.count))),
              ),
            ]
          : na(),
      ),
      section(
        t('feedback'),
        feedback
          ? table(
              [t('touchpoint'), t('kind'), t('responses'), t('average'), 'NPS'],
              feedback.touchpoints.map((f) =>
                h(
                  'tr',
                  {},
                  h('td', {}, f.touchpoint),
                  h('td', {}, f.kind.toUpperCase()),
                  h('td', {}, f.responses),
                  h('td', {}, f.average?.toFixed?.(2) ?? '—'),
                  h('td', {}, f.nps ?? '—'),
                ),
              ),
            )
          : na(),
      ),
    ),
    section(
      t('messageOutcomes'),
      messages
        ? table(
            [t('template'), t('channel'), t('total'), t('sent'), t('delivered'), t('failed'), t('suppressed'), t('deferred'), t('dropped'), t('reason')],
            messages.rows.map((r) =>
              h(
                'tr',
                {},
                [r.template, r.channel, r.total, r.sent, r.delivered, r.failed, r.suppressed, r.deferred, r.dropped].map((v) => h('td', {}, v)),
                h(
                  'td',
                  { class: 'muted' },
                  Object.entries(r.reasons ?? {})
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', '),
                ),
              ),
            ),
          )
        : na(),
    ),
    section(
      t('lift'),
      lift
        ? table(
            [t('goal'), t('treated'), t('control'), t('liftCol'), t('ci95'), t('significant')],
            lift.goals.map((g) =>
              h(
                'tr',
                {},
                h('td', {}, g.key),
                h('td', {}, `${g.treated.converted}/${g.treated.n} (${pct(g.treated.rate)})`),
                h('td', {}, `${g.control.converted}/${g.control.n} (${pct(g.control.rate)})`),
                h('td', {}, pct(g.lift)),
                h('td', {}, g.ci95 ? `[${pct(g.ci95[0])}, ${pct(g.ci95[1])}]` : '—'),
                h('td', {}, g.significant ? t('yes') : t('no')),
              ),
            ),
          )
        : na(),
    ),
  );
  // Charts need their boxes in the page to measure them.
  queueMicrotask(() => requestAnimationFrame(() => charts.forEach((make) => make())));
  return view;
}

// ---- Ops -------------------------------------------------------------------------------------------------------

async function opsPage() {
  const [failed, stuck, deferred, audit, enrolments] = await Promise.all([
    maybe('/v1/journeys?status=failed&limit=50'),
    maybe('/v1/journeys?stuck=true&limit=50'),
    api('/v1/messages?status=deferred&limit=50'),
    api('/v1/audit?limit=50'),
    maybe('/v1/enrolments?limit=20'),
  ]);
  // Bulk enrolments: progress, and pause / resume / cancel (each takes effect between batches; the page reloads).
  const control = (id, action) => () =>
    api(`/v1/enrolments/${enc(id)}/${action}`, { method: 'POST' })
      .then(() => render())
      .catch((err) => alert(err.message));
  const controls = (e) =>
    h(
      'td',
      { class: 'buttons' },
      e.status === 'running' ? h('button', { type: 'button', 'data-action': 'pause', onclick: control(e.id, 'pause') }, t('pause')) : null,
      e.status === 'paused' ? h('button', { type: 'button', 'data-action': 'resume', onclick: control(e.id, 'resume') }, t('resume')) : null,
      ['open', 'running', 'paused'].includes(e.status) ? h('button', { type: 'button', 'data-action': 'cancel', onclick: control(e.id, 'cancel') }, t('cancel')) : null,
    );
  const skippedText = (e) => {
    const n = Object.values(e.skipped).reduce((a, b) => a + b, 0);
    const why = Object.entries(e.skipped)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    return why ? `${n} (${why})` : String(n);
  };
  return h(
    'div',
    {},
    section(
      t('enrolments'),
      enrolments
        ? table(
            [t('journey'), t('status'), t('total'), t('startedCol'), t('skippedCol'), t('failed'), t('pendingCol'), t('when'), ''],
            enrolments.enrolments.map((e) =>
              h(
                'tr',
                { 'data-enrolment': e.id },
                h('td', {}, e.journeyKey),
                h('td', {}, term(e.status)),
                h('td', {}, e.total),
                h('td', {}, e.started),
                h('td', {}, skippedText(e)),
                h('td', {}, e.failed),
                h('td', {}, e.pending),
                h('td', {}, fmtTime(e.createdAt)),
                controls(e),
              ),
            ),
            { id: 'enrolments' },
          )
        : h('p', { class: 'muted' }, t('notAvailable')),
    ),
    section(
      t('failedJourneys'),
      failed
        ? table(
            [t('journey'), t('customer'), t('stage'), t('reason'), t('when')],
            failed.items.map((j) =>
              h(
                'tr',
                {},
                h('td', {}, h('code', {}, j.workflowId)),
                h('td', {}, h('a', { href: `#/customers/${enc(j.customerId)}` }, j.customerId)),
                h('td', {}, j.stage),
                h('td', {}, j.exitReason ?? '—'),
                h('td', {}, fmtTime(j.endedAt ?? j.startedAt)),
              ),
            ),
            { id: 'failed' },
          )
        : h('p', { class: 'muted' }, t('notAvailable')),
    ),
    section(
      t('stuckJourneys'),
      stuck
        ? h(
            'div',
            {},
            h('p', { class: 'muted' }, t('stuckHint')),
            table(
              [t('journey'), t('customer'), t('stage'), t('idleFor')],
              stuck.items.map((j) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('code', {}, j.workflowId)),
                  h('td', {}, h('a', { href: `#/customers/${enc(j.customerId)}` }, j.customerId)),
                  h('td', {}, j.stage),
                  h('td', {}, fmtDuration(since(j.waitingSince))),
                ),
              ),
              { id: 'stuck' },
            ),
          )
        : h('p', { class: 'muted' }, t('notAvailable')),
    ),
    section(
      t('deferredSends'),
      deferred
        ? table(
            [t('when'), t('customer'), t('template'), t('channel'), t('reason'), t('due')],
            deferred.messages.map((m) =>
              h(
                'tr',
                {},
                h('td', {}, fmtTime(m.createdAt)),
                h('td', {}, h('a', { href: `#/customers/${enc(m.customerId)}` }, m.customerId)),
                h('td', {}, m.template),
                h('td', {}, m.channel),
                h('td', {}, m.statusReason ?? '—'),
                h('td', {}, fmtTime(m.deferredUntil)),
              ),
            ),
            { id: 'deferred' },
          )
        : h('p', { class: 'muted' }, t('notAvailable')),
    ),
    section(
      t('auditLog'),
      table(
        [t('when'), t('who'), t('action'), t('target'), t('outcome')],
        audit.entries.map((e) =>
          h(
            'tr',
            {},
            h('td', {}, fmtTime(e.at)),
            h('td', {}, `${e.principalId} (${e.role})`),
            h('td', {}, h('code', {}, e.action)),
            h('td', {}, e.targetId ?? '—'),
            h('td', {}, `${e.outcome} ${e.status ?? ''}`),
          ),
        ),
        { id: 'audit' },
      ),
    ),
  );
}

const PAGES = { customers: customersPage, tasks: tasksPage, journeys: journeysPage, ops: opsPage };

// ---- start -----------------------------------------------------------------------------------------------------

async function boot() {
  setLang(initialLang());
  const lang = document.getElementById('lang');
  lang.value = currentLang();
  lang.addEventListener('change', () => {
    setLang(lang.value);
    void render();
  });
  document.getElementById('signout').addEventListener('click', signOut);
  config = await fetch('/console/config.json')
    .then((r) => r.json())
    .catch(() => ({ oidc: null }));
  if (config.oidc) {
    try {
      const token = await finishSignIn(config.oidc);
      if (token) sessionStorage.setItem(TOKEN, token);
    } catch (err) {
      return signInPage(t('error', { message: err.message }));
    }
  }
  window.addEventListener('hashchange', () => void render());
  await render();
}
void boot();
