// The Run panel: a run's output as it streams, then its usage, latency, cost and tool calls. DOM only.
import { $, h, showMessage } from '../dom.js';
import { NONE, formatCost, formatLatency, formatTokens } from '../format.js';
import { RUN_NOTICES, type RunMethods, type RunNotice, type RunShown, type RunView } from '../protocol.js';
import { connect } from '../rpc.js';

type State = { run: RunView | null };

const rpc = connect<RunMethods, RunNotice, RunShown, State>(RUN_NOTICES, (notice) => {
  state.run = notice.run;
  rpc.save(state);
  render();
});

const state: State = rpc.state() ?? { run: null };

const el = {
  title: $('title'),
  status: $('status'),
  cancel: $<HTMLButtonElement>('cancel'),
  message: $('message'),
  output: $('output'),
  toolsSection: $('tools-section'),
  tools: $('tools'),
  factsSection: $('facts-section'),
  facts: $('facts'),
  execution: $<HTMLButtonElement>('execution'),
};

const STATUS: Record<RunView['status'], string> = { running: 'Running…', done: 'Done', error: 'Failed', cancelled: 'Cancelled' };

function render(): void {
  const run = state.run;
  if (!run) return;
  el.title.textContent = run.title;
  el.status.textContent = STATUS[run.status];
  el.status.className = `status status-${run.status}`;
  el.cancel.hidden = run.status !== 'running';
  el.output.textContent = run.text || (run.status === 'running' ? '' : run.toolCalls ? '(no text: the model called tools)' : NONE);
  el.output.classList.toggle('streaming', run.status === 'running');
  if (run.error) showMessage(el.message, run.error.message, 'error');
  else if (run.status === 'cancelled') showMessage(el.message, 'Cancelled: the request was aborted; the registry stopped the provider call.');
  else showMessage(el.message, null);
  el.toolsSection.hidden = run.toolCalls === null;
  el.tools.textContent = run.toolCalls ?? '';
  el.factsSection.hidden = run.status !== 'done';
  if (run.status === 'done') {
    const facts: Array<[string, string]> = [
      ['Provider', run.provider],
      ['Model', run.model || NONE],
      ['Tokens (in → out)', formatTokens(run.usage?.input_tokens ?? null, run.usage?.output_tokens ?? null)],
      ['Latency', formatLatency(run.latencyMs)],
      ['Cost', run.costUsd === null ? 'no price for this model' : formatCost(run.costUsd)],
      ['Finish reason', run.finishReason ?? NONE],
      ['Execution', run.executionId ?? NONE],
    ];
    el.facts.replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)]));
  }
  el.execution.hidden = !run.executionId;
  rpc.shown({ status: run.status, text: run.text, error: run.error?.message ?? null });
}

el.cancel.addEventListener('click', () => void rpc.call('cancel', {}));
el.execution.addEventListener('click', () => state.run?.executionId && void rpc.call('openExecution', { id: state.run.executionId }));
render();
