/**
 * The worker side of the template pool (pool.ts): compiles and renders off the server's event loop.
 * Compiled templates are kept per version, in each worker, for the next render of the same version.
 */
import { workerData } from 'node:worker_threads';
import { LruCache } from '../lru.js';
import { compileTemplate, renderTemplates, type CompiledTemplate } from '../../shared/templates/engine.js';
import { TemplateError } from '../../shared/templates/errors.js';
import { outputExceeded, type TemplateLimits } from '../../shared/templates/limits.js';

export interface WorkerConfig {
  limits: TemplateLimits;
  cacheSize: number;
}

/** A template to render, cached under `key` (a version id, with the message index for a chat prompt's messages). */
export interface KeyedSource {
  key: string;
  source: string;
}

export type WorkerTask =
  | { op: 'compile'; source: string }
  | { op: 'compileMany'; sources: string[] }
  | { op: 'render'; key: string; source: string; variables: Record<string, unknown> }
  | { op: 'renderMany'; templates: KeyedSource[]; partials: Record<string, KeyedSource>; variables: Record<string, unknown> };

export interface CompiledInfo {
  variables: string[];
  partials: string[];
}

export type WorkerResult =
  | { ok: true; variables?: string[]; rendered?: string; compiledInfo?: CompiledInfo[]; outputs?: string[]; compiled: boolean }
  | { ok: false; error: { code: TemplateError['code']; message: string; details: Record<string, unknown> }; compiled: boolean };

const config = workerData as WorkerConfig;
const cache = new LruCache<string, CompiledTemplate>(config.cacheSize);

export default function run(task: WorkerTask): WorkerResult {
  let compiled = false;
  const cached = ({ key, source }: KeyedSource): CompiledTemplate => {
    let template = cache.get(key);
    if (!template) {
      compiled = true;
      template = compileTemplate(source, config.limits);
      cache.set(key, template);
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
      case 'render':
        return { ok: true, rendered: cached(task).render(task.variables), compiled };
      case 'renderMany': {
        const partials = Object.fromEntries(Object.entries(task.partials).map(([ref, s]) => [ref, cached(s)]));
        const templates = task.templates.map(cached);
        return { ok: true, outputs: renderTemplates(templates, task.variables, partials, config.limits), compiled };
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
