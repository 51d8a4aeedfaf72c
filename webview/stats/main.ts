// A prompt's statistics: the per-version table, charts over time (uPlot,
// in the editor theme's colours) and a comparison of two versions. DOM only.
import uPlot from 'uplot';
import type { Comparison, PromptStats } from '../../client/api.js';
import { $, h, setOptions, showMessage } from '../dom.js';
import { formatTimestamp } from '../format.js';
import { STATS_NOTICES, STATS_RANGES, type StatsMethods, type StatsNotice, type StatsRange, type StatsRollout, type StatsShown } from '../protocol.js';
import { connect } from '../rpc.js';
import { chartData, comparisonRows, MEASURES, versionColumns, type Measure } from './model.js';

interface State {
  prompt: string | null;
  range: StatsRange;
  environment: string;
  compare?: { a: number; b: number };
  /** Comparing a rollout's variants: the window starts at the rollout, in its environment. */
  rollout?: StatsRollout;
}

/** The range select's value for "since the rollout started". */
const SINCE_ROLLOUT = 'rollout';

const rpc = connect<StatsMethods, StatsNotice, StatsShown, State>(STATS_NOTICES, (notice) => {
  if (notice.prompt !== state.prompt) {
    state.prompt = notice.prompt;
    delete state.compare;
  }
  if (notice.rollout) {
    state.rollout = notice.rollout;
    state.environment = notice.rollout.environment;
    state.compare = { a: notice.rollout.live, b: notice.rollout.candidate };
  } else {
    delete state.rollout;
  }
  drawRanges();
  el.environment.value = state.environment;
  void load();
});

const state: State = rpc.state() ?? { prompt: null, range: '7d', environment: '' };
let stats: PromptStats | null = null;
let seq = 0;
const charts = new Map<Measure, { plot: uPlot; resize: ResizeObserver }>();

const el = {
  title: $('title'),
  range: $<HTMLSelectElement>('range'),
  environment: $<HTMLSelectElement>('environment'),
  reload: $<HTMLButtonElement>('reload'),
  executions: $<HTMLButtonElement>('executions'),
  window: $('window'),
  rollout: $('rollout'),
  compareTitle: $('compare-title'),
  message: $('message'),
  content: $('content'),
  head: $('versions-head'),
  rows: $('versions-rows'),
  charts: $('charts'),
  a: $<HTMLSelectElement>('compare-a'),
  b: $<HTMLSelectElement>('compare-b'),
  compareForm: $<HTMLFormElement>('compare-form'),
  comparison: $<HTMLTableElement>('comparison'),
  comparisonRows: $('comparison-rows'),
};

// ---------------------------------------------------------------------------
// Theme: every colour from the editor's CSS variables, read again when the theme changes.

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** One colour per version, from the theme's chart palette. */
function palette(): string[] {
  return ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((c) => cssVar(`--vscode-charts-${c}`, '#888'));
}

function theme() {
  const family = cssVar('--vscode-font-family', 'sans-serif');
  const size = cssVar('--vscode-font-size', '13px');
  return {
    foreground: cssVar('--vscode-charts-foreground', cssVar('--vscode-foreground', '#ccc')),
    lines: cssVar('--vscode-charts-lines', cssVar('--vscode-panel-border', '#444')),
    font: `${size} ${family}`,
    colours: palette(),
  };
}

// ---------------------------------------------------------------------------

function dropCharts(): void {
  for (const { plot, resize } of charts.values()) {
    resize.disconnect();
    plot.destroy();
  }
  charts.clear();
}

/** Draws each measure's chart; a measure no version has in the window says so instead. */
function drawCharts(s: PromptStats): Measure[] {
  dropCharts();
  const t = theme();
  const drawn: Measure[] = [];
  const cards: HTMLElement[] = [];
  for (const measure of Object.keys(MEASURES) as Measure[]) {
    const m = MEASURES[measure];
    const data = chartData(s, measure);
    const holder = h('div', { class: 'chart', 'data-measure': measure });
    cards.push(h('figure', { class: 'card' }, h('figcaption', {}, m.title), holder));
    if (!data.hasData) {
      holder.classList.add('empty');
      holder.append(h('p', { class: 'muted' }, `No ${m.title.toLowerCase()} in this window.`));
      continue;
    }
    drawn.push(measure);
    const axis = { stroke: t.foreground, font: t.font, grid: { stroke: t.lines, width: 1 }, ticks: { stroke: t.lines, width: 1 } };
    const opts: uPlot.Options = {
      width: 400,
      height: 220,
      scales: { x: { time: true, range: () => data.range }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? '' : formatTimestamp(new Date(v * 1000).toISOString())) },
        ...data.series.map((sv, i) => ({
          label: `v${sv.version}`,
          stroke: t.colours[i % t.colours.length]!,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 5, fill: t.colours[i % t.colours.length]! },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : m.format(v)),
        })),
      ],
      axes: [
        { ...axis, space: 70 },
        // Counts are whole: no 1.5-execution ticks.
        { ...axis, size: 72, values: (_u, splits) => splits.map((v) => m.format(v)), ...('whole' in m ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000] } : {}) },
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(opts, [data.x, ...data.series.map((sv) => sv.values)], holder);
    const resize = new ResizeObserver(() => {
      const width = Math.max(240, holder.clientWidth);
      if (Math.abs(width - plot.width) > 1) plot.setSize({ width, height: 220 });
    });
    resize.observe(holder);
    charts.set(measure, { plot, resize });
  }
  el.charts.replaceChildren(...cards);
  // Sized once in the page: the holders have their width now.
  for (const { plot } of charts.values()) plot.setSize({ width: Math.max(240, plot.root.parentElement?.clientWidth ?? 400), height: 220 });
  return drawn;
}

function drawTable(s: PromptStats): void {
  const columns = versionColumns(s);
  el.head.replaceChildren(...columns.map((c) => h('th', { class: c.numeric ? 'num' : undefined, scope: 'col' }, c.title)));
  const colours = theme().colours;
  el.rows.replaceChildren(
    ...s.versions.map((v, i) => {
      const tr = h('tr', { 'data-version': v.version });
      columns.forEach((c, j) => {
        const td = h('td', { class: c.numeric ? 'num' : undefined }, c.cell(v));
        if (j === 0) td.prepend(h('span', { class: `swatch swatch-${i % colours.length}` }));
        tr.append(td);
      });
      return tr;
    }),
  );
}

function drawCompareChoices(s: PromptStats): void {
  // A rollout's two variants are offered even before one of them has executions.
  const rollout = state.rollout ? [state.rollout.live, state.rollout.candidate] : [];
  const versions = [...new Set([...s.versions.map((v) => v.version), ...rollout])].sort((x, y) => x - y);
  const options = versions.map((v): [string, string] => [String(v), `v${v}`]);
  const b = state.compare?.b ?? versions[versions.length - 1];
  const a = state.compare?.a ?? versions[versions.length - 2] ?? versions[0];
  setOptions(el.a, options, String(a ?? ''));
  setOptions(el.b, options, String(b ?? ''));
  $('compare-section').hidden = versions.length < 2;
}

/** The time ranges, and "since the rollout started" while comparing a rollout. */
function drawRanges(): void {
  const options: Array<[string, string]> = Object.entries(STATS_RANGES);
  if (state.rollout) options.push([SINCE_ROLLOUT, `Since the rollout started (${formatTimestamp(state.rollout.since)})`]);
  setOptions(el.range, options, state.rollout ? SINCE_ROLLOUT : state.range);
}

/** What the window and the environment are: a rollout's start, or the chosen range. */
function windowParams(): { range: StatsRange; environment?: string; since?: string } {
  return { range: state.range, ...(state.environment ? { environment: state.environment } : {}), ...(state.rollout ? { since: state.rollout.since } : {}) };
}

/**
 * A rollout's comparison leads the page, under a banner saying which versions serve which share
 * since when; otherwise it follows the table and charts.
 */
function drawRolloutBanner(): void {
  const r = state.rollout;
  el.rollout.hidden = !r;
  const section = $('compare-section');
  if (r) el.content.prepend(section);
  else el.content.append(section);
  if (!r) {
    el.compareTitle.textContent = 'Compare two versions';
    return;
  }
  el.rollout.replaceChildren(
    h('strong', {}, `Rollout in ${r.environment}: `),
    `v${r.live} (live) ${100 - r.weight}% · v${r.candidate} (candidate) ${r.weight}%, since ${formatTimestamp(r.since)}. `,
    h('span', { class: 'muted' }, 'Each variant’s executions in this environment since the rollout started; B − A is the candidate minus the live version.'),
  );
  el.compareTitle.textContent = `The rollout’s variants side by side: v${r.live} (live) and v${r.candidate} (candidate)`;
}

async function compare(): Promise<void> {
  if (!state.prompt || !el.a.value || !el.b.value) return;
  state.compare = { a: Number(el.a.value), b: Number(el.b.value) };
  rpc.save(state);
  let c: Comparison;
  try {
    c = await rpc.call('compare', { prompt: state.prompt, ...state.compare, ...windowParams() });
  } catch (err) {
    showMessage(el.message, `Couldn't compare: ${err instanceof Error ? err.message : String(err)}`, 'error');
    return;
  }
  const role = (v: number) => (state.rollout?.live === v ? ' live' : state.rollout?.candidate === v ? ' candidate' : '');
  $('head-a').textContent = `v${c.a.version}${role(c.a.version)} (${c.a.count})`;
  $('head-b').textContent = `v${c.b.version}${role(c.b.version)} (${c.b.count})`;
  const rows = comparisonRows(c);
  el.comparisonRows.replaceChildren(...rows.map((cells) => h('tr', {}, ...cells.map((t, i) => h('td', { class: i ? 'num' : undefined }, t)))));
  el.comparison.hidden = false;
  const r = state.rollout;
  if (r && state.prompt) {
    rpc.shown({ prompt: state.prompt, range: state.range, versions: stats?.versions.map((v) => v.version) ?? [], charts: [], error: null, rollout: { live: r.live, candidate: r.candidate, since: r.since, compared: rows.length } });
  }
}

async function load(): Promise<void> {
  const prompt = state.prompt;
  if (!prompt) return;
  rpc.save(state);
  el.title.textContent = `Statistics: ${prompt}`;
  const mine = ++seq;
  el.reload.disabled = true;
  drawRolloutBanner();
  try {
    const s = await rpc.call('stats', { prompt, ...windowParams() });
    if (mine !== seq) return;
    stats = s;
    el.window.textContent = `${formatTimestamp(s.from)} – ${formatTimestamp(s.to)}, per ${s.interval}`;
    if (s.versions.length === 0) {
      dropCharts();
      el.content.hidden = true;
      const when = state.rollout ? `since the rollout started (${formatTimestamp(state.rollout.since)})` : `in the ${STATS_RANGES[state.range].toLowerCase()}`;
      showMessage(el.message, `No executions of ${prompt} ${when}${state.environment ? ` in ${state.environment}` : ''}.`);
      rpc.shown({ prompt, range: state.range, versions: [], charts: [], error: null });
      return;
    }
    showMessage(el.message, null);
    el.content.hidden = false;
    drawTable(s);
    const drawn = drawCharts(s);
    drawCompareChoices(s);
    el.comparison.hidden = true;
    rpc.shown({ prompt, range: state.range, versions: s.versions.map((v) => v.version), charts: drawn, error: null });
    // A rollout's variants are compared at once: that is what the user asked to see.
    if (state.rollout) await compare();
  } catch (err) {
    if (mine !== seq) return;
    const message = err instanceof Error ? err.message : String(err);
    el.content.hidden = true;
    showMessage(el.message, `Couldn't load the statistics of ${prompt}: ${message}`, 'error', { label: 'Retry', run: () => void load() });
    rpc.shown({ prompt, range: state.range, versions: [], charts: [], error: message });
  } finally {
    if (mine === seq) el.reload.disabled = false;
  }
}

// ---------------------------------------------------------------------------

drawRanges();
el.range.addEventListener('change', () => {
  if (el.range.value === SINCE_ROLLOUT) return;
  // Another window: the ordinary statistics again.
  delete state.rollout;
  state.range = el.range.value as StatsRange;
  drawRanges();
  void load();
});
el.environment.addEventListener('change', () => {
  // A rollout is one environment's: choosing another leaves the rollout's comparison.
  delete state.rollout;
  state.environment = el.environment.value;
  drawRanges();
  void load();
});
el.reload.addEventListener('click', () => void load());
el.executions.addEventListener('click', () => {
  if (state.prompt) void rpc.call('showExecutions', { prompt: state.prompt, ...(state.environment ? { environment: state.environment } : {}) });
});
el.compareForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void compare();
});
// The theme changed (VS Code sets the body's class and the variables): draw again in its colours.
new MutationObserver(() => stats && stats.versions.length && drawCharts(stats)).observe(document.body, { attributes: true, attributeFilter: ['class'] });

void rpc
  .call('environments', {})
  .then((envs) => setOptions(el.environment, [['', 'all'], ...envs.map((e): [string, string] => [e, e])], state.environment))
  .catch(() => undefined);
void load();
