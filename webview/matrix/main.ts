// The evaluation matrix: dataset items down, versions across, cells coloured by score;
// aggregates at the foot; an item clicked shows both outputs and their diff. DOM only.
import { $, h, showMessage } from '../dom.js';
import { NONE, formatCost, formatLatency } from '../format.js';
import { MATRIX_NOTICES, type MatrixCell, type MatrixMethods, type MatrixNotice, type MatrixShown, type MatrixView } from '../protocol.js';
import { connect } from '../rpc.js';

type State = { view: MatrixView | null; selected: number | null };

const rpc = connect<MatrixMethods, MatrixNotice, MatrixShown, State>(MATRIX_NOTICES, (notice) => {
  if (notice.type === 'matrix') {
    state.view = notice.view;
    if (!notice.view.rows.some((r) => r.seq === state.selected)) state.selected = null;
  } else state.selected = notice.seq;
  rpc.save(state);
  render();
});

const state: State = rpc.state() ?? { view: null, selected: null };

const el = {
  title: $('title'),
  summary: $('summary'),
  message: $('message'),
  main: $('matrix-main'),
  head: $('matrix-head'),
  rows: $('matrix-rows'),
  foot: $('matrix-foot'),
  item: $('item'),
  itemTitle: $('item-title'),
  itemFacts: $('item-facts'),
  outputs: $('item-outputs'),
  diff: $('item-diff'),
};

const percent = (x: number | null) => (x === null ? NONE : `${Math.round(x * 100)}%`);
const score = (x: number | null | undefined) => (x === null || x === undefined ? NONE : String(Math.round(x * 100) / 100));
/** An item's variables as `name: value` pairs. */
const inputText = (input: Record<string, unknown>) =>
  Object.entries(input)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
const short = (value: unknown, max = 60) => {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** A cell's class: passed, failed, error or missing; its mean score sets how strong a partial pass is. */
function cellClass(c: MatrixCell): string {
  if (c.status === 'missing') return 'cell missing';
  if (c.status === 'error') return 'cell error';
  const scores = Object.values(c.scores).map((s) => s.score);
  const mean = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  return `cell ${c.passed ? 'pass' : mean > 0 ? 'partial' : 'fail'}`;
}

function cellText(c: MatrixCell, evaluators: string[]): Node[] {
  if (c.status === 'missing') return [h('span', { class: 'muted' }, 'not run')];
  if (c.status === 'error') return [h('span', { class: 'verdict' }, 'error'), h('div', { class: 'out' }, short(c.error ?? ''))];
  const badges = evaluators.map((n) => {
    const s = c.scores[n];
    return h('span', { class: `badge ${s?.passed ? 'ok' : 'bad'}`, title: s ? `${n}: ${s.reason}` : n }, `${n} ${score(s?.score)}`);
  });
  return [h('span', { class: 'verdict' }, c.passed ? '✓ pass' : '✗ fail'), h('div', { class: 'badges' }, ...badges), h('div', { class: 'out' }, short(c.output ?? ''))];
}

function renderItem(view: MatrixView): void {
  const row = view.rows.find((r) => r.seq === state.selected);
  el.item.hidden = !row;
  for (const tr of el.rows.querySelectorAll('tr')) tr.classList.toggle('selected', Number(tr.getAttribute('data-seq')) === state.selected);
  if (!row) return;
  el.itemTitle.textContent = `Item ${row.seq}`;
  el.itemFacts.replaceChildren(h('dt', {}, 'Input'), h('dd', {}, inputText(row.input)), h('dt', {}, 'Expected'), h('dd', {}, row.expected === null || row.expected === undefined ? NONE : JSON.stringify(row.expected)));
  el.outputs.replaceChildren(
    ...view.columns.map((col, i) => {
      const c = row.cells[i]!;
      const reasons = Object.entries(c.scores).map(([n, s]) => h('li', { class: s.passed ? 'ok' : 'bad' }, `${n}: ${score(s.score)} · ${s.reason}`));
      const open = c.executionId ? h('button', { type: 'button', class: 'secondary', 'data-execution': c.executionId }, 'Open Execution') : null;
      return h(
        'div',
        { class: `output ${cellClass(c)}` },
        h('h3', {}, col.label),
        h('pre', { class: 'text' }, c.output ?? c.error ?? 'not run'),
        h('ul', { class: 'reasons' }, ...reasons),
        h('div', { class: 'muted' }, `${formatLatency(c.latencyMs)} · ${formatCost(c.costUsd)}`),
        open,
      );
    }),
  );
  const [a, b] = view.columns;
  el.diff.replaceChildren(
    h('div', { class: 'legend' }, h('span', { class: 'removed' }, `− ${b?.label ?? ''}`), ' ', h('span', { class: 'added' }, `+ ${a?.label ?? ''}`)),
    ...row.diff.map((l) => h('div', { class: `line ${l.kind}` }, `${l.kind === 'added' ? '+ ' : l.kind === 'removed' ? '− ' : '  '}${l.text}`)),
  );
}

function render(): void {
  const view = state.view;
  if (!view) return;
  el.title.textContent = view.title;
  const done = view.rows.reduce((n, r) => n + r.cells.filter((c) => c.status !== 'missing').length, 0);
  el.summary.textContent = `${view.rows.length} items × ${view.columns.length} versions · ${view.status} · ${done} runs · evaluators: ${view.evaluators.join(', ')}`;
  showMessage(el.message, view.error ? `The experiment failed: ${view.error}` : view.status === 'cancelled' ? 'Cancelled: the matrix shows the runs done before.' : null, view.error ? 'error' : 'info');
  el.head.replaceChildren(h('tr', {}, h('th', {}, '#'), h('th', {}, 'Input'), h('th', {}, 'Expected'), ...view.columns.map((c) => h('th', { class: 'col' }, c.label))));
  el.rows.replaceChildren(
    ...view.rows.map((r) => {
      const tr = h('tr', { 'data-seq': r.seq, tabindex: 0, title: 'Show both outputs and their diff' }, h('td', { class: 'num' }, String(r.seq)), h('td', { class: 'input' }, short(inputText(r.input), 50)), h('td', { class: 'input' }, r.expected === null || r.expected === undefined ? NONE : short(r.expected, 30)), ...r.cells.map((c) => h('td', { class: cellClass(c) }, ...cellText(c, view.evaluators))));
      const open = () => {
        state.selected = r.seq;
        rpc.save(state);
        renderItem(view);
        report();
        el.item.scrollIntoView({ block: 'nearest' });
      };
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (ev) => ev.key === 'Enter' && open());
      return tr;
    }),
  );
  const agg = (label: string, f: (a: NonNullable<MatrixView['columns'][number]['aggregate']>) => string) =>
    h('tr', {}, h('th', { colspan: 3 }, label), ...view.columns.map((c) => h('td', { class: 'num' }, c.aggregate ? f(c.aggregate) : NONE)));
  el.foot.replaceChildren(
    agg('Pass rate', (a) => percent(a.pass_rate)),
    ...view.evaluators.map((n) => agg(`Mean ${n}`, (a) => score(a.mean_scores[n]))),
    agg('Latency p50 / p95', (a) => `${formatLatency(a.latency_p50_ms)} / ${formatLatency(a.latency_p95_ms)}`),
    agg('Cost', (a) => formatCost(a.cost_usd)),
    agg('Errors', (a) => `${a.errors} of ${a.results}`),
  );
  el.main.hidden = false;
  renderItem(view);
  report();
}

function report(): void {
  const view = state.view;
  if (view) rpc.shown({ experimentId: view.experimentId, columns: view.columns.map((c) => c.label), rows: view.rows.length, selected: state.selected });
}

el.outputs.addEventListener('click', (ev) => {
  const id = (ev.target as HTMLElement).closest('button')?.getAttribute('data-execution');
  if (id) void rpc.call('openExecution', { id });
});
$('item-close').addEventListener('click', () => {
  state.selected = null;
  rpc.save(state);
  if (state.view) renderItem(state.view);
  report();
});
render();
