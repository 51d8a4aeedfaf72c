// The Executions view (panel area): recent executions, filtered, newest first. DOM only.
import type { ExecutionSummary, Page } from '../../client/api.js';
import { $, h, setOptions, showMessage } from '../dom.js';
import { formatTime, formatTimestamp } from '../format.js';
import { EXECUTIONS_NOTICES, TIME_RANGES, type ExecutionsFilter, type ExecutionsMethods, type ExecutionsNotice, type ExecutionsShown, type TimeRange } from '../protocol.js';
import { connect } from '../rpc.js';
import { COLUMNS, mergeNewest, rowCells } from './model.js';

interface State {
  filter: ExecutionsFilter;
  page: Page<ExecutionSummary> | null;
  selected?: string;
}

const NUMERIC = new Set(['Latency', 'Tokens', 'Cost', 'Quality']);
const DEFAULT: ExecutionsFilter = { range: '24h' };

const rpc = connect<ExecutionsMethods, ExecutionsNotice, ExecutionsShown, State>(EXECUTIONS_NOTICES, (notice) => {
  if (notice.type === 'filter') {
    state.filter = notice.filter;
    state.page = null;
    void controls.sync();
    void load();
  } else {
    void load(notice.merge);
  }
});

const state: State = rpc.state() ?? { filter: DEFAULT, page: null };
let error: string | null = null;
let seq = 0;
let updated: Date | null = null;

const el = {
  prompt: $<HTMLInputElement>('prompt'),
  names: $<HTMLDataListElement>('prompt-names'),
  version: $<HTMLSelectElement>('version'),
  environment: $<HTMLSelectElement>('environment'),
  status: $<HTMLSelectElement>('status'),
  range: $<HTMLSelectElement>('range'),
  refresh: $<HTMLButtonElement>('refresh'),
  stats: $<HTMLButtonElement>('stats'),
  clear: $<HTMLButtonElement>('clear'),
  summary: $('summary'),
  message: $('message'),
  table: $<HTMLTableElement>('table'),
  head: $('head'),
  rows: $('rows'),
  more: $<HTMLButtonElement>('more'),
};

/** The filter controls: they show `state.filter`, and changing one changes it. */
const controls = {
  async sync(): Promise<void> {
    const f = state.filter;
    el.prompt.value = f.prompt ?? '';
    el.environment.value = f.environment ?? '';
    el.status.value = f.status ?? '';
    el.range.value = f.range;
    el.stats.disabled = !f.prompt;
    await controls.versions();
  },
  /** The version list of the chosen prompt. */
  async versions(): Promise<void> {
    const prompt = state.filter.prompt;
    const wanted = state.filter.version ? String(state.filter.version) : '';
    el.version.disabled = !prompt;
    if (!prompt) return setOptions(el.version, [['', 'all']], '');
    setOptions(el.version, [['', 'all'], ...(wanted ? [[wanted, `v${wanted}`] as [string, string]] : [])], wanted);
    try {
      const versions = await rpc.call('versions', { prompt });
      if (state.filter.prompt === prompt) setOptions(el.version, [['', 'all'], ...versions.map((v): [string, string] => [String(v), `v${v}`])], wanted);
    } catch {
      // An unknown prompt has no versions; the list says so when it loads.
    }
  },
};

function save(): void {
  rpc.save(state);
}

function setFilter(change: Partial<ExecutionsFilter>): void {
  const next: ExecutionsFilter = { ...state.filter, ...change };
  for (const k of Object.keys(next) as Array<keyof ExecutionsFilter>) if (next[k] === undefined || next[k] === '') delete next[k];
  if (!next.prompt) delete next.version;
  state.filter = next;
  state.page = null;
  el.stats.disabled = !next.prompt;
  void load();
}

/** Loads the first page; with `merge`, adds only what is new on top of what is loaded. */
async function load(merge = false): Promise<void> {
  const mine = ++seq;
  el.refresh.disabled = true;
  try {
    const newest = await rpc.call('list', { filter: state.filter, cursor: null });
    if (mine !== seq) return;
    state.page = merge && state.page ? mergeNewest(state.page, newest) : newest;
    error = null;
    updated = new Date();
  } catch (err) {
    if (mine !== seq) return;
    error = err instanceof Error ? err.message : String(err);
    if (!merge) state.page = null;
  } finally {
    if (mine === seq) el.refresh.disabled = false;
  }
  render();
}

async function loadMore(): Promise<void> {
  const page = state.page;
  if (!page?.next_cursor) return;
  const mine = ++seq;
  el.more.disabled = true;
  try {
    const next = await rpc.call('list', { filter: state.filter, cursor: page.next_cursor });
    if (mine !== seq) return;
    const shown = new Set(page.items.map((e) => e.id));
    state.page = { items: [...page.items, ...next.items.filter((e) => !shown.has(e.id))], next_cursor: next.next_cursor };
    error = null;
  } catch (err) {
    if (mine !== seq) return;
    error = err instanceof Error ? err.message : String(err);
  } finally {
    el.more.disabled = false;
  }
  render();
}

function open(id: string): void {
  state.selected = id;
  for (const row of el.rows.querySelectorAll('tr')) row.classList.toggle('selected', row.dataset.id === id);
  save();
  void rpc.call('openExecution', { id }).catch((err: unknown) => showMessage(el.message, err instanceof Error ? err.message : String(err), 'error'));
}

function row(e: ExecutionSummary, now: Date): HTMLTableRowElement {
  const cells = rowCells(e, now);
  const tr = h('tr', { tabindex: 0, 'data-id': e.id, class: e.id === state.selected ? 'selected' : undefined, title: 'Open this execution' });
  cells.forEach((text, i) => {
    const column = COLUMNS[i]!;
    const td = h('td', { class: NUMERIC.has(column) ? 'num' : undefined }, text);
    if (column === 'Time') td.title = formatTimestamp(e.executed_at);
    if (column === 'Status') {
      td.className = `status status-${e.status}`;
      if (e.error) td.title = e.error;
    }
    tr.append(td);
  });
  tr.addEventListener('click', () => open(e.id));
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      open(e.id);
    }
  });
  return tr;
}

function render(): void {
  save();
  const page = state.page;
  const items = page?.items ?? [];
  const now = new Date();
  el.rows.replaceChildren(...items.map((e) => row(e, now)));
  el.table.hidden = items.length === 0;
  el.more.hidden = !page?.next_cursor;
  if (error) {
    showMessage(el.message, `Couldn't load executions: ${error}`, 'error', { label: 'Retry', run: () => void load() });
  } else if (page && items.length === 0) {
    const f = state.filter;
    if (f.prompt || f.environment || f.status) showMessage(el.message, 'No executions match these filters.', 'info', { label: 'Clear filters', run: clear });
    else if (f.range !== 'all') showMessage(el.message, `No executions in the ${TIME_RANGES[f.range].toLowerCase()}.`, 'info', { label: 'Show all time', run: () => (setFilter({ range: 'all' }), void controls.sync()) });
    else showMessage(el.message, 'No executions logged yet. Applications log them with the client SDK or POST /executions (docs/clients.md).');
  } else {
    showMessage(el.message, null);
  }
  el.summary.textContent = page
    ? `${items.length.toLocaleString()} execution${items.length === 1 ? '' : 's'}${page.next_cursor ? ' (more below)' : ''}${updated ? ` · updated ${formatTime(updated.toISOString(), updated)}` : ''}`
    : '';
  rpc.shown({ filter: state.filter, ids: items.map((e) => e.id), more: Boolean(page?.next_cursor), error });
}

function clear(): void {
  state.filter = { ...DEFAULT };
  state.page = null;
  void controls.sync();
  void load();
}

// ---------------------------------------------------------------------------

// The table's header sticks just below the filters, however many lines they wrap to.
new ResizeObserver(([entry]) => document.documentElement.style.setProperty('--toolbar-height', `${Math.ceil(entry?.borderBoxSize[0]?.blockSize ?? 38)}px`)).observe($('filters'));
el.head.replaceChildren(...COLUMNS.map((c) => h('th', { class: NUMERIC.has(c) ? 'num' : undefined, scope: 'col' }, c)));
setOptions(el.range, Object.entries(TIME_RANGES), state.filter.range);

let suggest: ReturnType<typeof setTimeout> | undefined;
el.prompt.addEventListener('input', () => {
  clearTimeout(suggest);
  const search = el.prompt.value.trim();
  suggest = setTimeout(() => {
    void rpc
      .call('prompts', { search })
      .then((names) => el.names.replaceChildren(...names.map((n) => h('option', { value: n }))))
      .catch(() => undefined);
  }, 200);
});
el.prompt.addEventListener('change', () => {
  const prompt = el.prompt.value.trim() || undefined;
  if (prompt === state.filter.prompt) return;
  setFilter({ prompt, version: undefined });
  void controls.versions();
});
el.version.addEventListener('change', () => setFilter({ version: el.version.value ? Number(el.version.value) : undefined }));
el.environment.addEventListener('change', () => setFilter({ environment: el.environment.value || undefined }));
el.status.addEventListener('change', () => setFilter({ status: (el.status.value || undefined) as ExecutionsFilter['status'] }));
el.range.addEventListener('change', () => setFilter({ range: el.range.value as TimeRange }));
el.refresh.addEventListener('click', () => void load());
el.clear.addEventListener('click', clear);
el.more.addEventListener('click', () => void loadMore());
el.stats.addEventListener('click', () => state.filter.prompt && void rpc.call('openStats', { prompt: state.filter.prompt }));
$('filters').addEventListener('submit', (ev) => ev.preventDefault());

void rpc
  .call('environments', {})
  .then((envs) => {
    setOptions(el.environment, [['', 'all'], ...envs.map((e): [string, string] => [e, e])], state.filter.environment ?? '');
  })
  .catch(() => undefined);
void controls.sync();
if (state.page) render();
void load(Boolean(state.page));
