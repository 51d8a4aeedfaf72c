import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { unavailable } from '../errors.js';
import { TemplateError } from '../../shared/templates/errors.js';
import { DEFAULT_TEMPLATE_LIMITS, timeExceeded, type TemplateLimits } from '../../shared/templates/limits.js';
import { LruCache } from '../lru.js';
import { renderJob, type RenderJob } from './render-job.js';
import type { CompiledInfo, WorkerConfig, WorkerResult, WorkerTask } from './render-worker.js';

export interface TemplatePoolOptions {
  limits: TemplateLimits;
  /** Worker threads at most (they start on demand and stop when idle). */
  threads: number;
  /** Old-generation heap of each worker, in MB: a render cannot take more of the server's memory. */
  workerHeapMb: number;
  /** Compiled templates, and render jobs ready to render, each worker keeps. */
  cacheSize: number;
  /**
   * Past `timeoutMs` plus this, a task still running is stopped by terminating its worker. The
   * render's own deadline (timeoutMs) normally stops it first; this catches what that check cannot
   * reach, and covers compiling a template on its first render in a worker.
   */
  hardTimeoutGraceMs: number;
  /** Compiling a template at publish may take this long before its worker is terminated (Handlebars compiles 5,000 tags in about a second). */
  compileTimeoutMs: number;
  /** Tasks waiting for a worker, at most; beyond it a request is answered 503. */
  maxQueue: number;
}

export const DEFAULT_TEMPLATE_POOL_OPTIONS: Readonly<TemplatePoolOptions> = Object.freeze({
  limits: DEFAULT_TEMPLATE_LIMITS,
  threads: Math.max(1, Math.min(4, availableParallelism())),
  workerHeapMb: 256,
  cacheSize: 1_000,
  hardTimeoutGraceMs: 5_000,
  compileTimeoutMs: 30_000,
  maxQueue: 1_000,
});

export interface TemplatePoolStats {
  /** Tasks that compiled a template (publishes, and renders that missed the workers' caches). */
  compiles: number;
  renders: number;
  /** Renders sent without their sources to a worker that did not have them ready, and sent again with them. */
  resent: number;
  /** Tasks stopped by terminating their worker. */
  terminated: number;
}

/**
 * The worker file beside this module: render-worker.ts under tsx, render-worker.js once built
 * (dist/server), render-worker.mjs in the extension's bundled server (its own esbuild entry).
 */
function workerFile(): string {
  for (const name of ['render-worker.ts', 'render-worker.js', 'render-worker.mjs']) {
    const path = fileURLToPath(new URL(`./${name}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`the template worker (render-worker.js) is missing beside ${fileURLToPath(import.meta.url)}`);
}

/**
 * Compiles and renders templates in a pool of worker threads, so that no template, however slow,
 * blocks the server's event loop; a task that overruns is stopped by terminating its worker.
 */
export class TemplatePool {
  private readonly pool: Piscina<WorkerTask, WorkerResult>;
  private readonly counts: TemplatePoolStats = { compiles: 0, renders: 0, resent: 0, terminated: 0 };
  /**
   * The render jobs sent to a worker with their sources lately: a worker probably has them ready, so
   * they go without (a worker started since, or another one, answers "missing", and they go again).
   */
  private readonly sent: LruCache<string, true>;

  constructor(private readonly options: TemplatePoolOptions = DEFAULT_TEMPLATE_POOL_OPTIONS) {
    const workerData: WorkerConfig = { limits: options.limits, cacheSize: options.cacheSize };
    this.sent = new LruCache(options.cacheSize);
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      maxQueue: options.maxQueue,
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb, maxYoungGenerationSizeMb: 16 },
    });
  }

  /** Checks a template (limits, syntax, helpers) and answers its root variables. */
  async compile(source: string): Promise<string[]> {
    const ms = this.options.compileTimeoutMs;
    const result = await this.run({ op: 'compile', source }, ms, () =>
      unavailable('compile_timeout', `compiling the template took longer than ${ms} ms; the server may be busy: retry, or publish a smaller template`),
    );
    return (result.ok && result.variables) || [];
  }

  /**
   * Checks several templates (a chat prompt's messages) in one task: their root variables and partial references.
   * A TemplateError carries `index`, the template at fault, in its details.
   */
  async compileMany(sources: string[]): Promise<CompiledInfo[]> {
    const ms = this.options.compileTimeoutMs;
    const result = await this.run({ op: 'compileMany', sources }, ms, () =>
      unavailable('compile_timeout', `compiling the templates took longer than ${ms} ms; the server may be busy: retry, or publish smaller templates`),
    );
    return (result.ok && result.compiledInfo) || [];
  }

  /**
   * Renders a job's templates with the partials they include (by reference as written), under one
   * render budget: one output per template. A worker that has rendered the job keeps it ready; the
   * sources go to the workers only when none is known to have it, or when the one that took the
   * task answers that it does not.
   */
  async renderJob(job: RenderJob, variables: Record<string, unknown>): Promise<string[]> {
    const { timeoutMs } = this.options.limits;
    const hardTimeoutMs = timeoutMs + this.options.hardTimeoutGraceMs;
    const task = (withSources: boolean): WorkerTask => ({
      op: 'render',
      key: job.key,
      variables,
      ...(withSources ? { sources: { templates: job.templates, partials: job.partials } } : {}),
    });
    let result = await this.run(task(this.sent.get(job.key) === undefined), hardTimeoutMs, () => timeExceeded(timeoutMs));
    if (!result.ok) {
      this.counts.resent += 1;
      result = await this.run(task(true), hardTimeoutMs, () => timeExceeded(timeoutMs));
      if (!result.ok) throw new Error('a template worker answered "missing" to a render that carried its sources');
    }
    this.sent.set(job.key, true);
    this.counts.renders += 1;
    return result.outputs ?? [];
  }

  /** Renders one template (a render job of its own). */
  async render(source: string, variables: Record<string, unknown>): Promise<string> {
    return (await this.renderJob(renderJob([source]), variables))[0]!;
  }

  stats(): TemplatePoolStats {
    return { ...this.counts };
  }

  /** Stops the workers; tasks in flight are cancelled. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /** Runs a task; past `hardTimeoutMs` its worker is terminated and `overran()` is thrown. */
  private async run(task: WorkerTask, hardTimeoutMs: number, overran: () => Error): Promise<Extract<WorkerResult, { ok: true } | { missing: true }>> {
    if (this.pool.queueSize >= this.options.maxQueue) {
      throw unavailable('render_busy', 'the server has too many templates waiting to compile or render; retry shortly');
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), hardTimeoutMs);
    let result: WorkerResult;
    try {
      result = await this.pool.run(task, { signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) {
        this.counts.terminated += 1;
        throw overran();
      }
      if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new TemplateError('render_too_large', `rendering needed more memory than a render may use (${this.options.workerHeapMb} MB)`, {
          limit: 'output',
          max: this.options.limits.maxOutputChars,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (result.compiled) this.counts.compiles += 1;
    // A render sent without its sources to a worker that does not have them is answered as is: its caller sends them.
    if (!result.ok && !result.missing) throw new TemplateError(result.error.code, result.error.message, result.error.details);
    return result;
  }
}
