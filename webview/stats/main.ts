// A prompt's statistics: the per-version table, charts over time (uPlot,
// in the editor theme's colours) and a comparison of two versions. DOM only.
import uPlot from 'uplot';
import type { Comparison, PromptStats } from '../../client/api.js';
import { $, h, setOptions, showMessage } from '../dom.js';
import { formatTimestamp } from '../format.js';
import { STATS_NOTICES, STATS_RANGES, type StatsMethods, type StatsNotice, type StatsRange, type StatsShown } from '../protocol.js';
import { connect } from '../rpc.js';
import { chartData, comparisonRows, MEASURES, versionColumns, type Measure } from './model.js';

interface State {
  prompt: string | null;
  range: StatsRange;
  environment: string;
  compare?: { a: number; b: number };
}

const rpc = connect<StatsMethods, StatsNotice, StatsShown, State>(STATS_NOTICES, (notice) => {
  if (notice.prompt !== state.prompt) {
    state.prompt = notice.prompt;
    delete state.compare;
  }
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
  const versions = s.versions.map((v) => v.version);
  const options = versions.map((v): [string, string] => [String(v), `v${v}`]);
  const b = state.compare?.b ?? versions[versions.length - 1];
  const a = state.compare?.a ?? versions[versions.length - 2] ?? versions[0];
  setOptions(el.a, options, String(a ?? ''));
  setOptions(el.b, options, String(b ?? ''));
  $('compare-section').hidden = versions.length < 2;
}

async function compare(): Promise<void> {
  if (!state.prompt || !el.a.value || !el.b.value) return;
  state.compare = { a: Number(el.a.value), b: Number(el.b.value) };
  rpc.save(state);
  let c: Comparison;
  try {
    c = await rpc.call('compare', { prompt: state.prompt, ...state.compare, range: state.range, ...(state.environment ? { environment: state.environment } : {}) });
  } catch (err) {
    showMessage(el.message, `Couldn't compare: ${err instanceof Error ? err.message : String(err)}`, 'error');
    return;
  }
  $('head-a').textContent = `v${c.a.version} (${c.a.count})`;
  $('head-b').textContent = `v${c.b.version} (${c.b.count})`;
  el.comparisonRows.replaceChildren(...comparisonRows(c).map((cells) => h('tr', {}, ...cells.map((t, i) => h('td', { class: i ? 'num' : undefined }, t)))));
  el.comparison.hidden = false;
}

async function load(): Promise<void> {
  const prompt = state.prompt;
  if (!prompt) return;
  rpc.save(state);
  el.title.textContent = `Statistics: ${prompt}`;
  const mine = ++seq;
  el.reload.disabled = true;
  try {
    const s = await rpc.call('stats', { prompt, range: state.range, ...(state.environment ? { environment: state.environment } : {}) });
    if (mine !== seq) return;
    stats = s;
    el.window.textContent = `${formatTimestamp(s.from)} – ${formatTimestamp(s.to)}, per ${s.interval}`;
    if (s.versions.length === 0) {
      dropCharts();
      el.content.hidden = true;
      showMessage(el.message, `No executions of ${prompt} in the ${STATS_RANGES[state.range].toLowerCase()}${state.environment ? ` in ${state.environment}` : ''}.`);
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

setOptions(el.range, Object.entries(STATS_RANGES), state.range);
el.range.addEventListener('change', () => {
  state.range = el.range.value as StatsRange;
  void load();
});
el.environment.addEventListener('change', () => {
  state.environment = el.environment.value;
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
