/**
 * The matrix of an experiment (items × columns) from what the registry answers:
 * the experiment with its aggregates, its results and the dataset's items.
 * Pure (no `vscode`), so unit tests cover it.
 */
import type { DatasetItem, ExperimentResult, ExperimentWithDrafts } from '../../client/api.js';
import type { MatrixCell, MatrixColumn, MatrixView } from '../../webview/protocol.js';
import { diffLines } from './compare.js';

/** A column to show: its label, and which version or draft of the experiment it is. */
export interface ColumnSpec {
  label: string;
  version: number | null;
  draft: string | null;
}

const MISSING: MatrixCell = { status: 'missing', passed: false, output: null, error: null, scores: {}, latencyMs: null, costUsd: null, executionId: null };

const same = (a: { version: number | null; draft: string | null }, b: { version: number | null; draft: string | null }) =>
  a.version === b.version && a.draft === b.draft;

/** Evaluator names in the experiment's order (a spec's `name`, else its type). */
export function evaluatorNames(x: Pick<ExperimentWithDrafts, 'evaluators'>): string[] {
  return x.evaluators.map((e) => (typeof e.name === 'string' && e.name ? e.name : e.type));
}

export function buildMatrix(title: string, x: ExperimentWithDrafts, columns: ColumnSpec[], items: DatasetItem[], results: ExperimentResult[]): MatrixView {
  const cols: MatrixColumn[] = columns.map((c) => {
    const a = x.aggregates.find((g) => same(g, c));
    return {
      ...c,
      aggregate: a
        ? { results: a.results, errors: a.errors, pass_rate: a.pass_rate, mean_scores: a.mean_scores, latency_p50_ms: a.latency_p50_ms, latency_p95_ms: a.latency_p95_ms, cost_usd: a.cost_usd }
        : null,
    };
  });
  const bySeq = new Map<number, ExperimentResult[]>();
  for (const r of results) bySeq.set(r.item_seq, [...(bySeq.get(r.item_seq) ?? []), r]);
  const rows = [...items]
    .sort((a, b) => a.seq - b.seq)
    .map((item) => {
      const mine = bySeq.get(item.seq) ?? [];
      const cells = columns.map((c): MatrixCell => {
        const r = mine.find((m) => same(m, c));
        if (!r) return MISSING;
        return { status: r.status, passed: r.passed, output: r.output, error: r.error, scores: r.scores, latencyMs: r.latency_ms, costUsd: r.cost_usd, executionId: r.execution_id };
      });
      const text = (c: MatrixCell | undefined) => c?.output ?? c?.error ?? '';
      return { seq: item.seq, input: item.input, expected: item.expected, cells, diff: cells.length >= 2 ? diffLines(text(cells[1]), text(cells[0])) : [] };
    });
  return { title, experimentId: x.id, status: x.status, error: x.error, evaluators: evaluatorNames(x), columns: cols, rows };
}
