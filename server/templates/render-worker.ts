/**
 * The worker side of the template pool (pool.ts): compiles and renders off the server's event loop.
 * Compiled templates are kept per version, in each worker, for the next render of the same version.
 */
import { workerData } from 'node:worker_threads';
import { LruCache } from '../lru.js';
import { compileTemplate, type CompiledTemplate } from './engine.js';
import { TemplateError } from './errors.js';
import { outputExceeded, type TemplateLimits } from './limits.js';

export interface WorkerConfig {
  limits: TemplateLimits;
  cacheSize: number;
}

export type WorkerTask =
  | { op: 'compile'; source: string }
  | { op: 'render'; key: string; source: string; variables: Record<string, unknown> };

export type WorkerResult =
  | { ok: true; variables?: string[]; rendered?: string; compiled: boolean }
  | { ok: false; error: { code: TemplateError['code']; message: string; details: Record<string, unknown> }; compiled: boolean };

const config = workerData as WorkerConfig;
const cache = new LruCache<string, CompiledTemplate>(config.cacheSize);

export default function run(task: WorkerTask): WorkerResult {
  let compiled = false;
  try {
    if (task.op === 'compile') {
      compiled = true;
      return { ok: true, variables: [...compileTemplate(task.source, config.limits).variables], compiled };
    }
    let template = cache.get(task.key);
    if (!template) {
      compiled = true;
      template = compileTemplate(task.source, config.limits);
      cache.set(task.key, template);
    }
    return { ok: true, rendered: template.render(task.variables), compiled };
  } catch (thrown) {
    // With output limits raised near V8's longest string, building the text can fail before the budget's check.
    const err = thrown instanceof RangeError && /string length/i.test(thrown.message) ? outputExceeded(config.limits.maxOutputChars) : thrown;
    // A TemplateError's code and details do not survive the structured clone of a thrown error: send them as data.
    if (err instanceof TemplateError) return { ok: false, error: { code: err.code, message: err.message, details: err.details }, compiled };
    throw err;
  }
}
