// Runs inside VS Code's extension host, against the bundled local registry: the
// execution-log panel, detail and statistics, observed through what each webview
// reports it shows (the `shown` messages of webview/protocol.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { RegistryApi, RegistryError } from '../../../client/index.js';
import type { ExtensionApi } from '../../../extension/extension.js';
import { until } from './support.js';

declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => Promise<void> | void) => void;
declare const before: (fn: () => Promise<void> | void) => void;

const sorted = (ids: string[]) => [...ids].sort();

describe('the execution log in VS Code', () => {
  let ext: ExtensionApi;
  let api: RegistryApi;
  const v1: string[] = [];
  const v2: string[] = [];

  before(async () => {
    ext = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    await until('connected', () => ext.connection.state.kind === 'connected');
    api = ext.connection.api;
    await api.createVersion('summarize', { content: 'Summarize: {{text}}' });
    await api.createVersion('summarize', { content: 'Summarize briefly: {{text}}' });
    await api.createMetric({ name: 'accuracy', type: 'numeric', min: 0, max: 1 });
    const now = Date.now();
    const rows = Array.from({ length: 7 }, (_, i) => ({
      id: randomUUID(),
      prompt: 'summarize',
      version: i < 3 ? 1 : 2,
      environment: i < 3 ? 'staging' : 'production',
      executed_at: new Date(now - (i + 1) * 600_000).toISOString(),
      input_variables: { text: `document ${i}` },
      rendered_prompt: `Summarize: document ${i}`,
      response: `summary ${i}`,
      latency_ms: 200 + i * 50,
      input_tokens: 40,
      output_tokens: 12,
      cost_usd: 0.0004,
      quality_score: 0.5 + i / 20,
      ...(i === 6 ? { status: 'error' as const, error: 'timeout', response: null } : {}),
    }));
    for (const r of rows) (r.version === 1 ? v1 : v2).push(r.id);
    assert.equal((await api.logExecutions(rows)).inserted, 7);
  });

  it('"Show Executions" on a version opens the panel filtered to it, and it shows exactly those', async () => {
    await vscode.commands.executeCommand('promptRegistry.showExecutions', { prompt: 'summarize', version: 2 });
    const shown = await until('the panel shows v2', () => {
      const s = ext.executions.last;
      return s?.filter.version === 2 && s.ids.length > 0 && s;
    });
    assert.deepEqual(sorted(shown.ids), sorted(v2));
    assert.equal(shown.error, null);
    assert.equal(shown.filter.prompt, 'summarize');
    assert.equal(ext.executions.refreshing, true, 'a visible view refreshes on a timer');
  });

  it('filters by environment, newest first', async () => {
    await vscode.commands.executeCommand('promptRegistry.showExecutions', { prompt: 'summarize', environment: 'staging' });
    const shown = await until('the panel shows staging', () => {
      const s = ext.executions.last;
      return s?.filter.environment === 'staging' && s.filter.version === undefined && s;
    });
    assert.deepEqual(shown.ids, v1, 'newest first, as logged');
  });

  it('says so when nothing matches, rather than showing an empty table', async () => {
    await vscode.commands.executeCommand('promptRegistry.showExecutions', { prompt: 'summarize', environment: 'dev' });
    const shown = await until('the panel shows dev', () => ext.executions.last?.filter.environment === 'dev' && ext.executions.last);
    assert.deepEqual(shown.ids, []);
    assert.equal(shown.error, null);
  });

  it('opens an execution\'s detail, and a human score added there is stored; a value out of range is refused with the registry\'s words', async () => {
    const id = v2[0]!;
    await vscode.commands.executeCommand('promptRegistry.openExecution', id);
    const shown = await until('the detail shows', () => ext.execution.last?.id === id && ext.execution.last);
    assert.equal(shown.error, null);
    assert.deepEqual(shown.scores, []);
    const score = await ext.execution.handlers.addScore({ id, metric: 'accuracy', value: 0.9, comment: ' concise ' });
    assert.deepEqual([score.metric, score.value, score.source, score.comment], ['accuracy', 0.9, 'human', 'concise']);
    const stored = await api.getExecution(id);
    assert.deepEqual(stored.scores.map((s) => [s.metric, s.value, s.source]), [['accuracy', 0.9, 'human']]);
    await assert.rejects(ext.execution.handlers.addScore({ id, metric: 'accuracy', value: 4 }), (err: unknown) => {
      // The test bundle has its own copy of the client's classes: check the shape, not instanceof.
      const e = err as RegistryError;
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_score');
      assert.match(e.message, /"accuracy" is at most 1/);
      return true;
    });
    const metrics = await ext.execution.handlers.metrics({});
    assert.deepEqual(metrics.map((m) => m.name), ['accuracy']);
  });

  it('"Show Statistics" draws the per-version table and the charts over time', async () => {
    await vscode.commands.executeCommand('promptRegistry.showStatistics', { prompt: 'summarize' });
    const shown = await until('the statistics show', () => ext.statistics.last?.prompt === 'summarize' && ext.statistics.last.versions.length > 0 && ext.statistics.last);
    assert.equal(shown.error, null);
    assert.deepEqual(shown.versions, [1, 2]);
    assert.deepEqual(shown.charts, ['latency_p95', 'cost_mean', 'quality_mean', 'count']);
    const stats = await ext.statistics.handlers.stats({ prompt: 'summarize', range: '24h' });
    assert.equal(stats.interval, 'hour');
    assert.deepEqual(stats.versions.map((v) => v.count), [3, 4]);
    const cmp = await ext.statistics.handlers.compare({ prompt: 'summarize', a: 1, b: 2, range: '7d' });
    assert.deepEqual([cmp.a.count, cmp.b.count], [3, 4]);
  });

  it('stops refreshing when the panel is hidden', async () => {
    await vscode.commands.executeCommand('promptRegistry.showExecutions', { prompt: 'summarize' });
    await until('visible and refreshing', () => ext.executions.refreshing);
    await vscode.commands.executeCommand('workbench.action.closePanel');
    await until('the timer stopped', () => !ext.executions.refreshing);
  });

  it('refuses an execution id that is not one, saying so', async () => {
    const result = await vscode.commands.executeCommand<string | undefined>('promptRegistry.openExecution', 'not-an-id');
    assert.equal(result, undefined);
  });
});
