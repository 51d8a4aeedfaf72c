// One execution's detail: everything logged, its scores, and "Add Score". DOM only.
import type { ExecutionDetail, Metric } from '../../client/api.js';
import { $, h, setOptions, showMessage } from '../dom.js';
import { NONE, formatCost, formatLatency, formatScore, formatTimestamp, formatTokens } from '../format.js';
import { EXECUTION_NOTICES, type ExecutionMethods, type ExecutionNotice, type ExecutionShown } from '../protocol.js';
import { connect } from '../rpc.js';
import { describeMetric, parseScoreValue } from '../executions/model.js';

/** What a chat execution logs beside the text fields (the chat contract); older registries leave them out. */
interface ChatLog {
  messages?: Array<{ role: string; content: string | null }> | null;
  response_messages?: Array<{ role: string; content: string | null; tool_calls?: unknown }> | null;
  tool_calls?: unknown;
}

/** A list of messages as role-labelled bubbles; tool calls shown as JSON under their message. */
function conversation(list: HTMLElement, messages: NonNullable<ChatLog['response_messages']>): void {
  list.replaceChildren(
    ...messages.map((m) => {
      const calls = m.tool_calls === undefined || m.tool_calls === null ? [] : [h('pre', { class: 'tool-calls' }, JSON.stringify(m.tool_calls, null, 2))];
      return h('li', { class: `bubble ${m.role}` }, h('div', { class: 'role' }, m.role), h('div', { class: 'content' }, m.content ?? ''), ...calls);
    }),
  );
}

interface State {
  id: string | null;
}

const rpc = connect<ExecutionMethods, ExecutionNotice, ExecutionShown, State>(EXECUTION_NOTICES, (notice) => {
  if (state.id !== notice.id) showMessage(el.datasetNote, null);
  state.id = notice.id;
  rpc.save(state);
  void load();
});

const state: State = rpc.state() ?? { id: null };
let detail: ExecutionDetail | null = null;
let metrics: Metric[] = [];
let seq = 0;

const el = {
  title: $('title'),
  when: $('when'),
  stats: $<HTMLButtonElement>('stats'),
  addToDataset: $<HTMLButtonElement>('add-to-dataset'),
  datasetNote: $('dataset-note'),
  message: $('message'),
  main: $('detail'),
  facts: $('facts'),
  errorSection: $('error-section'),
  error: $('error'),
  variables: $('variables'),
  rendered: $('rendered'),
  response: $('response'),
  renderedMessages: $('rendered-messages'),
  responseMessages: $('response-messages'),
  metadata: $('metadata'),
  scoreRows: $('score-rows'),
  scores: $<HTMLTableElement>('scores'),
  noScores: $('no-scores'),
  form: $<HTMLFormElement>('score-form'),
  metric: $<HTMLSelectElement>('metric'),
  value: $<HTMLInputElement>('value'),
  choice: $<HTMLSelectElement>('value-choice'),
  comment: $<HTMLInputElement>('comment'),
  add: $<HTMLButtonElement>('add'),
  hint: $('hint'),
  scoreError: $('score-error'),
  noMetrics: $('no-metrics'),
};

/** Text a person can read: redacted and missing are said, not left blank. */
function text(value: string | null, redacted: boolean | 'withheld'): string {
  if (value !== null) return value;
  if (redacted === 'withheld') return '(withheld: reading logged payloads needs the executions:read scope)';
  return redacted ? '(redacted by the retention policy)' : '(not logged)';
}

function json(value: Record<string, unknown> | null, redacted: boolean | 'withheld'): string {
  if (value === null) return text(null, redacted);
  return Object.keys(value).length ? JSON.stringify(value, null, 2) : '{}';
}

function render(): void {
  if (!detail) return;
  const d = detail;
  const redacted = d.redacted_at !== null;
  el.title.textContent = `${d.prompt ?? '(deleted prompt)'}${d.version === null ? '' : ` v${d.version}`}`;
  el.when.textContent = formatTimestamp(d.executed_at);
  el.stats.hidden = !d.prompt;
  el.addToDataset.hidden = false;
  const facts: Array<[string, string, string?]> = [
    ['Status', d.status, `status status-${d.status}`],
    ['Environment', d.environment ?? NONE],
    ['Latency', formatLatency(d.latency_ms)],
    ['Tokens (in → out)', formatTokens(d.input_tokens, d.output_tokens)],
    ['Cost', formatCost(d.cost_usd)],
    ['Quality', formatScore(d.quality_score)],
    ['Executed at', formatTimestamp(d.executed_at)],
    ['Id', d.id],
    ['Version id', d.prompt_version_id ?? NONE],
    ...(redacted ? [['Redacted at', formatTimestamp(d.redacted_at!)] as [string, string]] : []),
  ];
  el.facts.replaceChildren(...facts.flatMap(([k, v, cls]) => [h('dt', {}, k), h('dd', { class: cls }, v)]));
  el.errorSection.hidden = !d.error;
  el.error.textContent = d.error ?? '';
  const hidden = d.payload_withheld ? 'withheld' : redacted;
  el.variables.textContent = json(d.input_variables, hidden);
  el.rendered.textContent = text(d.rendered_prompt, hidden);
  el.response.textContent = text(d.response, hidden);
  // A chat execution: the conversation in, and the message(s) out, instead of the text.
  const chat = d as ExecutionDetail & ChatLog;
  const input = Array.isArray(chat.messages) ? chat.messages : null;
  const output = Array.isArray(chat.response_messages) ? chat.response_messages : null;
  el.rendered.hidden = input !== null;
  el.renderedMessages.hidden = input === null;
  if (input) conversation(el.renderedMessages, input);
  el.response.hidden = output !== null;
  el.responseMessages.hidden = output === null;
  if (output) conversation(el.responseMessages, output);
  el.metadata.textContent = json(d.metadata, false);
  el.scores.hidden = d.scores.length === 0;
  el.noScores.hidden = d.scores.length > 0;
  el.scoreRows.replaceChildren(
    ...d.scores.map((s) =>
      h('tr', { 'data-metric': s.metric }, h('td', {}, s.metric), h('td', { class: 'num' }, String(s.value)), h('td', {}, s.source), h('td', {}, s.comment ?? ''), h('td', {}, s.scored_by), h('td', {}, formatTimestamp(s.scored_at))),
    ),
  );
  el.main.hidden = false;
}

function report(error: string | null): void {
  rpc.shown({ id: state.id ?? '', scores: detail?.scores.map((s) => ({ metric: s.metric, value: s.value, source: s.source })) ?? [], error });
}

async function load(): Promise<void> {
  const id = state.id;
  if (!id) return;
  const mine = ++seq;
  try {
    const d = await rpc.call('detail', { id });
    if (mine !== seq) return;
    detail = d;
    showMessage(el.message, null);
    render();
    report(null);
  } catch (err) {
    if (mine !== seq) return;
    const message = err instanceof Error ? err.message : String(err);
    detail = null;
    el.main.hidden = true;
    showMessage(el.message, `Couldn't load execution ${id}: ${message}`, 'error', { label: 'Retry', run: () => void load() });
    report(message);
  }
}

// ---------------------------------------------------------------------------
// Add Score

const chosen = (): Metric | undefined => metrics.find((m) => m.name === el.metric.value);

/** Booleans and categories are picked from a list; numbers are typed. */
function metricChanged(): void {
  const m = chosen();
  el.scoreError.hidden = true;
  if (!m) return;
  el.hint.textContent = `${describeMetric(m)}${m.description ? ` · ${m.description}` : ''}`;
  const listed = m.type !== 'numeric';
  el.value.hidden = listed;
  el.choice.hidden = !listed;
  if (m.type === 'boolean') setOptions(el.choice, [['true', 'true'], ['false', 'false']]);
  if (m.type === 'categorical') setOptions(el.choice, (m.categories ?? []).map((c): [string, string] => [c, c]));
  el.value.placeholder = m.type === 'numeric' ? describeMetric(m) : '';
}

async function loadMetrics(): Promise<void> {
  try {
    metrics = await rpc.call('metrics', {});
  } catch (err) {
    metrics = [];
    el.scoreError.hidden = false;
    el.scoreError.textContent = `Couldn't load the metrics: ${err instanceof Error ? err.message : String(err)}`;
  }
  setOptions(el.metric, metrics.map((m): [string, string] => [m.name, `${m.name} (${m.type})`]));
  const none = metrics.length === 0;
  el.noMetrics.hidden = !none;
  for (const c of [el.metric, el.value, el.choice, el.comment, el.add]) c.disabled = none;
  metricChanged();
}

async function addScore(): Promise<void> {
  const m = chosen();
  if (!m || !state.id) return;
  const parsed = parseScoreValue(m, m.type === 'numeric' ? el.value.value : el.choice.value);
  el.scoreError.hidden = parsed.ok;
  if (!parsed.ok) {
    el.scoreError.textContent = parsed.message;
    el.value.focus();
    return;
  }
  el.add.disabled = true;
  try {
    await rpc.call('addScore', { id: state.id, metric: m.name, value: parsed.value, ...(el.comment.value.trim() ? { comment: el.comment.value } : {}) });
    el.value.value = '';
    el.comment.value = '';
    await load();
  } catch (err) {
    // The registry's own words (a 4xx says what it refused and why).
    el.scoreError.hidden = false;
    el.scoreError.textContent = err instanceof Error ? err.message : String(err);
  } finally {
    el.add.disabled = false;
  }
}

el.metric.addEventListener('change', metricChanged);
el.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void addScore();
});
$('reload').addEventListener('click', () => void load());
el.stats.addEventListener('click', () => detail?.prompt && void rpc.call('openStats', { prompt: detail.prompt }));
el.addToDataset.addEventListener('click', () => {
  const id = state.id;
  if (!id) return;
  el.addToDataset.disabled = true;
  void rpc
    .call('addToDataset', { id })
    .then((added) => {
      if (added && state.id === id) showMessage(el.datasetNote, `Added to dataset ${added.dataset} as item ${added.item}.`);
    })
    .finally(() => (el.addToDataset.disabled = false));
});

void loadMetrics();
void load();
