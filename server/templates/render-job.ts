import { createHash } from 'node:crypto';

/**
 * What a render sends to the template workers: the templates (a text prompt's one, or a chat prompt's
 * messages), the partials they include by reference as written, and a key derived from all of them.
 * Workers keep the templates compiled and prepared under that key, so a render of a job a worker
 * has seen sends the key and the variables alone. The key is the content's hash, never a name
 * given to it: a key can only find what it was made from (a worker checks this when it compiles).
 */
export interface RenderJob {
  key: string;
  templates: readonly string[];
  partials: Readonly<Record<string, string>>;
}

/** The key of these templates and partials: SHA-256 of their JSON, partials sorted by reference. */
export function renderJobKey(templates: readonly string[], partials: Readonly<Record<string, string>>): string {
  const refs = Object.keys(partials).sort();
  return createHash('sha256')
    .update(JSON.stringify([templates, refs.map((ref) => [ref, partials[ref]])]), 'utf8')
    .digest('base64url');
}

export function renderJob(templates: readonly string[], partials: Readonly<Record<string, string>> = {}): RenderJob {
  return { key: renderJobKey(templates, partials), templates, partials };
}
