/**
 * A .prompt file evaluated as a draft: experiments run published versions,
 * so the CLI runs the draft itself, item by item (each run is an ordinary
 * draft run, logged by the registry), scores each output with the
 * registry's evaluators (POST /evaluators/test) and aggregates as an
 * experiment does. The answer has the experiment's shape, with version 0.
 */
import type { DatasetItem, DraftBody, EvaluatorSpec, Experiment, ExperimentAggregate, RegistryApi } from '../../client/index.js';
import { RegistryError } from '../../client/index.js';

export interface DraftEvaluation {
  prompt: string;
  draft: DraftBody;
  dataset: string;
  evaluators: EvaluatorSpec[];
  provider?: string | undefined;
  model?: string | undefined;
  concurrency: number;
  progress: (text: string) => void;
}

interface Outcome {
  error: boolean;
  passed: boolean;
  scores: Record<string, number>;
  latencyMs: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Nearest-rank percentile of sorted values, as the server computes experiment aggregates. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function aggregate(outcomes: Outcome[], names: string[]): ExperimentAggregate {
  const ran = outcomes.filter((o) => !o.error);
  const latencies = ran.map((o) => o.latencyMs).filter((x): x is number => x !== null).sort((a, b) => a - b);
  const mean = (name: string) => {
    const values = ran.map((o) => o.scores[name]).filter((x): x is number => x !== undefined);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  };
  return {
    version: 0,
    results: outcomes.length,
    errors: outcomes.length - ran.length,
    pass_rate: outcomes.length ? outcomes.filter((o) => o.passed).length / outcomes.length : null,
    mean_scores: Object.fromEntries(names.map((n) => [n, mean(n)])),
    latency_p50_ms: percentile(latencies, 50),
    latency_p95_ms: percentile(latencies, 95),
    input_tokens: ran.reduce((a, o) => a + o.inputTokens, 0),
    output_tokens: ran.reduce((a, o) => a + o.outputTokens, 0),
    cost_usd: ran.reduce((a, o) => a + o.costUsd, 0),
  };
}

export async function evaluateDraft(api: RegistryApi, e: DraftEvaluation): Promise<Experiment> {
  const dataset = await api.getDataset(e.dataset);
  const items: DatasetItem[] = [];
  for (let cursor: string | null = null; ; ) {
    const page = await api.datasetItems(e.dataset, { version: dataset.version || undefined, limit: 100, cursor });
    items.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  // Check every spec before the first run (a bad regex or schema, or an llm_judge, which only experiments have, is refused here).
  for (const evaluator of e.evaluators) await api.testEvaluator({ evaluator, output: '' });
  const names = e.evaluators.map((s) => s.name ?? s.type);
  const started = new Date().toISOString();
  const outcomes: Outcome[] = [];
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    e.progress('interrupted: stopping after the runs in flight');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  e.progress(`running the draft of ${e.prompt} on ${items.length} items`);

  const runOne = async (item: DatasetItem): Promise<Outcome> => {
    let run;
    try {
      run = await api.run(e.prompt, { draft: e.draft, variables: item.input, ...(e.provider ? { provider: e.provider } : {}), ...(e.model ? { model: e.model } : {}) });
    } catch (err) {
      // A refused item (a variable missing, a provider that failed) is an error on that item, as in an experiment;
      // a refused request as a whole (no such prompt or provider, a bad credential) ends the evaluation.
      const onItem = err instanceof RegistryError && (err.status === 422 || err.status === 502 || err.status === 504);
      if (!onItem) throw err;
      process.stderr.write(`item ${item.seq}: ${(err as Error).message}\n`);
      return { error: true, passed: false, scores: {}, latencyMs: null, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    }
    const scores: Record<string, number> = {};
    let passed = true;
    for (const evaluator of e.evaluators) {
      const v = await api.testEvaluator({ evaluator, output: run.output.text, expected: item.expected, latency_ms: run.latency_ms, cost_usd: run.cost_usd });
      scores[v.evaluator] = v.score;
      passed &&= v.passed;
    }
    return { error: false, passed, scores, latencyMs: run.latency_ms, inputTokens: run.usage.input_tokens ?? 0, outputTokens: run.usage.output_tokens ?? 0, costUsd: run.cost_usd ?? 0 };
  };

  try {
    let next = 0;
    const worker = async () => {
      while (!interrupted && next < items.length) {
        const item = items[next++]!;
        outcomes.push(await runOne(item));
        e.progress(`running: ${outcomes.length}/${items.length}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(e.concurrency, items.length) }, worker));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) {
    process.stderr.write(`prompt-registry: draft evaluation stopped (${outcomes.length}/${items.length} done)\n`);
    process.exit(130);
  }
  return {
    id: 'draft',
    prompt: e.prompt,
    dataset: e.dataset,
    dataset_version: dataset.version,
    versions: [],
    evaluators: e.evaluators,
    provider: e.provider ?? null,
    model: e.model ?? null,
    concurrency: e.concurrency,
    status: 'completed',
    error: null,
    progress: { done: outcomes.length, total: items.length },
    aggregates: [aggregate(outcomes, names)],
    created_at: started,
    created_by: 'cli',
    started_at: started,
    finished_at: new Date().toISOString(),
  };
}
