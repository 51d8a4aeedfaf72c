/**
 * `prompt-registry eval`: evaluates a prompt version (or a .prompt file, as a
 * draft) on a dataset, for CI. Exit codes: 0 every version met
 * --min-pass-rate, 1 one did not (or the experiment failed, or an error such
 * as an unreachable registry or a refused request), 2 a usage error, 130
 * interrupted (the experiment is cancelled).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { EvaluatorSpec, RegistryApi } from '../../client/index.js';
import type { DraftBody, ExperimentWithDrafts } from '../../client/api.js';
import { parsePromptFile, versionRequest } from '../../shared/prompt-files/prompt-file.js';
import { connect } from '../sync/commands.js';
import { failingVersions, formatTable, parseEvaluator, UsageError } from './spec.js';

interface EvalFlags {
  prompt?: string;
  version?: number[];
  file?: string;
  dataset: string;
  evaluator: EvaluatorSpec[];
  provider?: string;
  model?: string;
  concurrency?: number;
  minPassRate: number;
  pollMs: number;
  json?: boolean;
  url?: string;
  apiKey?: string;
}

const int = (flag: string, min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} "${text}": a whole number from ${min} to ${max}`);
  return n;
};

const versions = (text: string, previous: number[] = []) => [...previous, int('--version', 1, 2_147_483_647)(text)];

const rate = (text: string): number => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--min-pass-rate "${text}": a number from 0 to 1 (0.9 is 90%)`);
  return n;
};

const collect = (text: string, previous: EvaluatorSpec[] = []) => [...previous, parseEvaluator(text)];

const progress = (text: string) => {
  process.stderr.write(process.stderr.isTTY ? `\r${text}\u001b[K` : `${text}\n`);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the experiment (of versions, or of a draft labelled "draft") and polls it until it is over; Ctrl-C (or SIGTERM) cancels it. */
async function runExperiment(api: RegistryApi, flags: EvalFlags, prompt: string, what: { versions: number[] } | { draft: DraftBody }): Promise<ExperimentWithDrafts> {
  let experiment: ExperimentWithDrafts = await api.startExperiment({
    prompt,
    ...('draft' in what ? { drafts: [{ label: 'draft', ...what.draft }] } : { versions: what.versions }),
    dataset: flags.dataset,
    evaluators: flags.evaluator,
    ...(flags.provider ? { provider: flags.provider } : {}),
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
  });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(`interrupted: cancelling experiment ${experiment.id}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  progress(`experiment ${experiment.id} started: ${experiment.progress.total} runs`);
  try {
    let shown = -1;
    while (!interrupted && (experiment.status === 'queued' || experiment.status === 'running')) {
      await sleep(flags.pollMs);
      if (interrupted) break;
      experiment = await api.experiment(experiment.id);
      if (experiment.progress.done !== shown) {
        shown = experiment.progress.done;
        progress(`${experiment.status}: ${shown}/${experiment.progress.total}`);
      }
    }
    if (interrupted) {
      experiment = (await api.cancelExperiment(experiment.id)) as unknown as ExperimentWithDrafts;
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.stderr.write(`prompt-registry: experiment ${experiment.id} cancelled (${experiment.progress.done}/${experiment.progress.total} done)\n`);
      process.exit(130);
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    return experiment;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The command, for server/cli.ts to add to the program. */
export function evalCommands(): Command[] {
  const command = new Command('eval')
    .description(
      'Evaluate a prompt version (or a .prompt file, as a draft) on a dataset: runs an experiment on the registry, prints per version the pass rate, mean score per evaluator, latency and cost. Exits 0 when every version meets --min-pass-rate, 1 when one does not or on error, 2 on a usage error, 130 when interrupted (the experiment is cancelled)',
    )
    .option('--prompt <name>', 'the prompt (with --version; with --file, default the file\'s name)')
    .option('--version <n>', 'a version to evaluate (repeat to compare several)', versions)
    .option('--file <path>', 'a .prompt file to evaluate as a draft, unpublished (an experiment of the draft on the registry)')
    .requiredOption('--dataset <name>', 'the dataset (its latest version)')
    .option(
      '--evaluator <spec>',
      'repeatable: exact_match, contains:TEXT, regex:PATTERN, json_valid, json_schema:SCHEMA, numeric_closeness:TOLERANCE, latency_ceiling:MS, cost_ceiling:USD, llm_judge:PROMPT, or a JSON object such as \'{"type":"regex","pattern":"^\\\\d+$","name":"digits"}\'',
      collect,
    )
    .option('--provider <name>', 'the provider (default: the first configured, by name)')
    .option('--model <model>', 'the model (default: the version\'s, else the provider\'s)')
    .option('--concurrency <n>', 'runs at a time, 1 to 32 (default 4)', int('--concurrency', 1, 32))
    .requiredOption('--min-pass-rate <rate>', 'the share of items (0 to 1) where every evaluator must pass, for each version', rate)
    .addOption(new Option('--poll-ms <ms>', 'how often to ask for progress').default(1000).argParser(int('--poll-ms', 10, 60_000)).hideHelp())
    .option('--json', 'print the experiment as JSON (with "passed" and "min_pass_rate")')
    .option('--url <url>', 'the registry (default PROMPT_REGISTRY_URL)')
    .option('--api-key <key>', 'an API key with the run scope (default PROMPT_REGISTRY_API_KEY)')
    .action(async (flags: EvalFlags) => {
      try {
        await evaluate(flags);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`prompt-registry eval: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
  // Commander's own errors (a missing or bad option, written to stderr by then) are usage errors: exit 2.
  command.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  return [command];
}

async function evaluate(flags: EvalFlags): Promise<void> {
  if (!flags.evaluator?.length) throw new UsageError('give at least one --evaluator');
  if (flags.file && flags.version) throw new UsageError('give --version or --file, not both');
  if (!flags.file && !flags.version) throw new UsageError('give --version N (with --prompt) or --file PATH');
  if (flags.version && !flags.prompt) throw new UsageError('--version needs --prompt');
  // A draft's runs are single requests that wait for the model (the registry's own provider timeout is 60 s, with retries).
  const api = connect(flags, process.env, 300_000);

  let experiment: ExperimentWithDrafts;
  if (flags.file) {
    let text: string;
    try {
      text = readFileSync(flags.file, 'utf8');
    } catch (err) {
      throw new UsageError(`--file ${flags.file}: ${(err as Error).message}`);
    }
    const file = parsePromptFile(text);
    const problem = file.problems[0];
    if (problem) throw new Error(`${flags.file}:${problem.span.line}: ${problem.message}`);
    const name = flags.prompt ?? file.meta.name;
    if (!name) throw new UsageError(`${flags.file} names no prompt: give --prompt`);
    const { type, content, messages, model, temperature, max_tokens, config, input_schema } = versionRequest(file);
    const draft = { ...(type ? { type } : {}), content, messages, model, temperature, max_tokens, config, input_schema };
    // Undefined fields dropped: the registry's draft body is strict about what it takes.
    experiment = await runExperiment(api, flags, name, { draft: JSON.parse(JSON.stringify(draft)) as DraftBody });
  } else {
    experiment = await runExperiment(api, flags, flags.prompt!, { versions: flags.version! });
  }

  const failing = failingVersions(experiment, flags.minPassRate);
  const passed = experiment.status === 'completed' && failing.length === 0;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...experiment, min_pass_rate: flags.minPassRate, passed }, null, 2)}\n`);
  } else {
    process.stdout.write(formatTable(experiment, flags.minPassRate));
  }
  if (experiment.status !== 'completed') {
    process.stderr.write(`prompt-registry eval: the experiment ${experiment.status}${experiment.error ? `: ${experiment.error}` : ''}\n`);
  } else if (failing.length) {
    const label = (v: number | null) => (v !== null && v > 0 ? `v${v}` : 'the draft');
    process.stderr.write(`prompt-registry eval: ${failing.map(label).join(', ')} below the minimum pass rate of ${(flags.minPassRate * 100).toFixed(1)}%\n`);
  }
  process.exitCode = passed ? 0 : 1;
}
