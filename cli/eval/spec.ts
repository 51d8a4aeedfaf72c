/** `--evaluator` specs and the result table of `prompt-registry eval`. */
import { InvalidArgumentError } from 'commander';
import type { EvaluatorSpec } from '../../client/index.js';
import type { ExperimentWithDrafts } from '../../client/api.js';

/** A usage error: the command exits 2 with its message (an InvalidArgumentError, so that option parsers may throw it). */
export class UsageError extends InvalidArgumentError {}

/** Types whose one option can follow a colon: `contains:TEXT`, `regex:PATTERN`, ... */
const SHORTHAND: Record<string, (arg: string) => Record<string, unknown>> = {
  contains: (value) => ({ value }),
  regex: (pattern) => ({ pattern }),
  json_schema: (schema) => ({ schema: parseJson(schema, 'json_schema:SCHEMA') }),
  numeric_closeness: (tolerance) => ({ tolerance: parseNumber(tolerance, 'numeric_closeness:TOLERANCE') }),
  latency_ceiling: (ms) => ({ max_ms: parseNumber(ms, 'latency_ceiling:MS') }),
  cost_ceiling: (usd) => ({ max_usd: parseNumber(usd, 'cost_ceiling:USD') }),
  llm_judge: (prompt) => ({ prompt }),
};

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--evaluator ${what}: not JSON (${(err as Error).message})`);
  }
}

function parseNumber(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--evaluator ${what}: "${text}" is not a number`);
  return n;
}

/**
 * One `--evaluator`: a JSON object (`{"type": "regex", "pattern": "^\\d+$", "name": "digits"}`),
 * a bare type (`exact_match`, `json_valid`), or `TYPE:ARG` for the types with one main option.
 * The server checks the spec itself (a bad regex or schema is its 400, naming the evaluator).
 */
export function parseEvaluator(text: string): EvaluatorSpec {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const spec = parseJson(trimmed, 'JSON');
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || typeof (spec as { type?: unknown }).type !== 'string') {
      throw new UsageError(`--evaluator ${trimmed}: a JSON evaluator is an object with a "type"`);
    }
    return spec as EvaluatorSpec;
  }
  const colon = trimmed.indexOf(':');
  const type = colon < 0 ? trimmed : trimmed.slice(0, colon);
  if (!/^[a-z_]+$/.test(type)) throw new UsageError(`--evaluator "${text}": expected a type such as exact_match, contains:TEXT, regex:PATTERN, or a JSON object`);
  if (colon < 0) return { type };
  const shorthand = SHORTHAND[type];
  if (!shorthand) throw new UsageError(`--evaluator "${text}": ${type} takes no TYPE:ARG form; give a JSON object`);
  return { type, ...shorthand(trimmed.slice(colon + 1)) };
}

/** The version a CLI threshold is judged on: every version's pass rate must meet it. */
export function failingVersions(experiment: ExperimentWithDrafts, minPassRate: number): Array<number | null> {
  return experiment.aggregates.filter((a) => (a.pass_rate ?? 0) < minPassRate).map((a) => a.version);
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | null) => (x === null ? '-' : `${Math.round(x)} ms`);

/** A plain-text table: one row per version, a column per evaluator's mean score. */
export function formatTable(experiment: ExperimentWithDrafts, minPassRate: number): string {
  const names = [...new Set(experiment.aggregates.flatMap((a) => Object.keys(a.mean_scores)))];
  const header = ['version', 'items', 'errors', 'pass rate', ...names, 'p50', 'p95', 'cost', 'threshold'];
  const rows = experiment.aggregates.map((a) => [
    // A draft's column has no version (null), or 0 from older registries' CLI.
    a.version !== null && a.version > 0 ? `v${a.version}` : 'draft',
    String(a.results),
    String(a.errors),
    pct(a.pass_rate),
    ...names.map((n) => {
      const s = a.mean_scores[n];
      return s === null || s === undefined ? '-' : s.toFixed(3);
    }),
    ms(a.latency_p50_ms),
    ms(a.latency_p95_ms),
    `$${a.cost_usd.toFixed(4)}`,
    (a.pass_rate ?? 0) >= minPassRate ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`;
  const title = `${experiment.prompt} on ${experiment.dataset} (dataset v${experiment.dataset_version}), experiment ${experiment.id}: ${experiment.status}\n`;
  return title + line(header) + rows.map(line).join('');
}
