/**
 * The worker side of the template pool (pool.ts): compiles and renders off the server's event loop.
 * Each worker keeps compiled templates (by content hash, so a partial many prompts include is
 * compiled once) and render jobs made ready to render (by job key, render-job.ts), for the next
 * render of the same job: that render sends its key and variables, not its sources.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import { LruCache } from '../lru.js';
import { compileTemplate, prepareTemplates, type CompiledTemplate, type PreparedTemplates } from '../../shared/templates/engine.js';
import { TemplateError } from '../../shared/templates/errors.js';
import { DEFAULT_TEMPLATE_LIMITS, outputExceeded, type TemplateLimits } from '../../shared/templates/limits.js';
import { renderJobKey } from './render-job.js';

export interface WorkerConfig {
  limits: TemplateLimits;
  cacheSize: number;
}

export type WorkerTask =
  | { op: 'compile'; source: string }
  | { op: 'compileMany'; sources: string[] }
  /**
   * Renders the job `key`: with its sources, compiling what this worker lacks; without them, only if
   * this worker has the job ready, and otherwise answers `missing` (the pool sends it again with them).
   */
  | { op: 'render'; key: string; variables: Record<string, unknown>; sources?: { templates: readonly string[]; partials: Readonly<Record<string, string>> } };

export interface CompiledInfo {
  variables: string[];
  partials: string[];
}

export type WorkerResult =
  | { ok: true; variables?: string[]; compiledInfo?: CompiledInfo[]; outputs?: string[]; compiled: boolean }
  | { ok: false; missing: true; compiled: false }
  | { ok: false; missing?: undefined; error: { code: TemplateError['code']; message: string; details: Record<string, unknown> }; compiled: boolean };

// Outside a worker thread (a test calling run), the default limits.
const config = (workerData as WorkerConfig | null) ?? { limits: DEFAULT_TEMPLATE_LIMITS, cacheSize: 100 };
const templates = new LruCache<string, CompiledTemplate>(config.cacheSize);
const jobs = new LruCache<string, PreparedTemplates>(config.cacheSize);

export default function run(task: WorkerTask): WorkerResult {
  let compiled = false;
  const cached = (source: string): CompiledTemplate => {
    const key = createHash('sha256').update(source, 'utf8').digest('base64url');
    let template = templates.get(key);
    if (!template) {
      compiled = true;
      template = compileTemplate(source, config.limits);
      templates.set(key, template);
    }
    return template;
  };
  let index = -1;
  try {
    switch (task.op) {
      case 'compile':
        compiled = true;
        return { ok: true, variables: [...compileTemplate(task.source, config.limits).variables], compiled };
      case 'compileMany': {
        compiled = true;
        const compiledInfo = task.sources.map((source, i) => {
          index = i;
          const t = compileTemplate(source, config.limits);
          return { variables: [...t.variables], partials: [...t.partials] };
        });
        return { ok: true, compiledInfo, compiled };
      }
      case 'render': {
        let job = jobs.get(task.key);
        if (!job) {
          if (!task.sources) return { ok: false, missing: true, compiled: false };
          const { templates: sources, partials } = task.sources;
          // A key names one content: a caller's wrong key must not file these templates under another's.
          if (renderJobKey(sources, partials) !== task.key) throw new Error(`render job key ${task.key} does not match its templates`);
          job = prepareTemplates(
            sources.map(cached),
            Object.fromEntries(Object.entries(partials).map(([ref, source]) => [ref, cached(source)])),
            config.limits,
          );
          jobs.set(task.key, job);
        }
        return { ok: true, outputs: job.render(task.variables), compiled };
      }
    }
  } catch (thrown) {
    // With output limits raised near V8's longest string, building the text can fail before the budget's check.
    const err = thrown instanceof RangeError && /string length/i.test(thrown.message) ? outputExceeded(config.limits.maxOutputChars) : thrown;
    // A TemplateError's code and details do not survive the structured clone of a thrown error: send them as data.
    if (err instanceof TemplateError) {
      const details = task.op === 'compileMany' && index >= 0 ? { ...err.details, index } : err.details;
      return { ok: false, error: { code: err.code, message: err.message, details }, compiled };
    }
    throw err;
  }
}
