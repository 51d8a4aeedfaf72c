/**
 * Partials: a template includes another prompt's text with Handlebars partial syntax.
 *   {{> safety}}                follows: the version live in the environment being resolved (latest, outside one)
 *   {{> "safety@3"}}            pinned to version 3
 *   {{> "safety@production"}}   pinned to what is live in production
 * A partial is a text prompt; it may include partials itself, at most MAX_PARTIAL_DEPTH deep, without cycles.
 */
import type { Queryable } from '../db/index.js';
import { AppError, invalid, type ErrorCode } from '../errors.js';
import * as repo from './repository.js';
import type { PartialVersion } from './repository.js';
import type { Include, PartialUsed } from './schemas.js';

export const MAX_PARTIAL_DEPTH = 8;

const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ENVIRONMENT = /^[a-z0-9][a-z0-9_-]*$/;

/** A reference as written (`safety`, `safety@3`, `safety@production`) as what it names; 400 `invalid_reference` when it names nothing well-formed. */
export function parseRef(ref: string): Include {
  const at = ref.lastIndexOf('@');
  const prompt = at < 0 ? ref : ref.slice(0, at);
  const pin = at < 0 ? undefined : ref.slice(at + 1);
  if (!PROMPT_NAME.test(prompt) || prompt.length > 255) {
    throw invalid('invalid_reference', `{{> ${ref}}}: "${prompt}" is not a prompt name`, { reference: ref });
  }
  if (pin === undefined) return { ref, prompt, version: null, environment: null };
  if (/^[1-9]\d{0,9}$/.test(pin) && Number(pin) <= 2_147_483_647) return { ref, prompt, version: Number(pin), environment: null };
  if (ENVIRONMENT.test(pin) && pin.length <= 50) return { ref, prompt, version: null, environment: pin };
  throw invalid('invalid_reference', `{{> "${ref}"}}: after "@" give a version number or an environment name`, { reference: ref });
}

const written = (inc: Include) => (inc.version === null && inc.environment === null ? `{{> ${inc.ref}}}` : `{{> "${inc.ref}"}}`);

/** Where a follow reference points: the environment being resolved, or the latest version. */
export type ResolveMode = { environment: string } | { latest: true };

async function target(db: Queryable, inc: Include, mode: ResolveMode): Promise<PartialVersion | undefined> {
  if (inc.version !== null) return repo.partialByNumber(db, inc.prompt, inc.version);
  const environment = inc.environment ?? ('environment' in mode ? mode.environment : null);
  if (environment === null) return repo.partialLatest(db, inc.prompt);
  return (await repo.partialLive(db, inc.prompt, environment))[0];
}

export interface ResolvedPartials {
  /** By reference as written, over nested includes: what a client registers as Handlebars partials. */
  partials: Record<string, { prompt: string; version: number; version_id: string; content: string }>;
  /** Each partial version included, once, in order of first inclusion. */
  used: PartialUsed[];
  /** The prompts whose deployments this answer depends on (follow and environment-pinned references). */
  dependsOn: Set<string>;
}

const unusable = (code: ErrorCode, message: string, details: Record<string, unknown>) => new AppError('unprocessable', code, message, details);

/**
 * The partials a version includes, resolved for `mode` and flattened: 422 when one is not there
 * (nothing live where a reference follows or pins an environment) or has become unusable (a chat
 * prompt, a cycle through later deploys, too deep).
 */
export async function resolvePartials(db: Queryable, includes: readonly Include[], mode: ResolveMode): Promise<ResolvedPartials> {
  const out: ResolvedPartials = { partials: {}, used: [], dependsOn: new Set() };
  if (includes.length === 0) return out;
  const seenVersions = new Set<string>();
  const walk = async (list: readonly Include[], chain: string[]): Promise<void> => {
    for (const inc of list) {
      if (inc.version === null) out.dependsOn.add(inc.prompt);
      if (out.partials[inc.ref]) continue;
      if (chain.includes(inc.prompt)) {
        throw unusable('reference_cycle', `the partials make a cycle: ${[...chain, inc.prompt].join(' -> ')}`, { chain: [...chain, inc.prompt] });
      }
      if (chain.length > MAX_PARTIAL_DEPTH) {
        throw unusable('reference_too_deep', `partials nest more than ${MAX_PARTIAL_DEPTH} deep: ${[...chain, inc.prompt].join(' -> ')}`, { max: MAX_PARTIAL_DEPTH });
      }
      const found = await target(db, inc, mode);
      if (!found) {
        const where = inc.version !== null ? `version ${inc.version}` : `a version live in ${inc.environment ?? ('environment' in mode ? mode.environment : '')}`;
        throw unusable('partial_unavailable', `${written(inc)}: "${inc.prompt}" has no ${where}`, { reference: inc.ref, prompt: inc.prompt });
      }
      if (found.type !== 'text') {
        throw unusable('invalid_reference', `${written(inc)}: version ${found.version} of "${inc.prompt}" is a chat prompt; a partial must be a text prompt`, { reference: inc.ref });
      }
      out.partials[inc.ref] = { prompt: found.prompt, version: found.version, version_id: found.version_id, content: found.content };
      if (!seenVersions.has(found.version_id)) {
        seenVersions.add(found.version_id);
        out.used.push({ prompt: found.prompt, version: found.version, version_id: found.version_id });
      }
      await walk(found.includes, [...chain, inc.prompt]);
    }
  };
  // The including prompt is not known here: cycles are counted from its first partial.
  await walk(includes, []);
  return out;
}

/**
 * Create-time checks of a new version of `prompt` that includes `includes`: each reference names
 * an existing text prompt (and version, or a version live in the pinned environment), following
 * the current targets makes no cycle back to a prompt on the way (400 `reference_cycle`, naming the
 * chain), and nesting stays within MAX_PARTIAL_DEPTH. Follow references are checked against the
 * latest version and every live one.
 */
export async function checkIncludes(db: Queryable, prompt: string, includes: readonly Include[], environments: readonly string[]): Promise<void> {
  const visit = async (list: readonly Include[], chain: string[]): Promise<void> => {
    for (const inc of list) {
      const path = [...chain, inc.prompt];
      if (chain.includes(inc.prompt)) {
        throw invalid('reference_cycle', `${written(inc)} makes a cycle: ${path.join(' -> ')}`, { reference: inc.ref, chain: path });
      }
      if (path.length - 1 > MAX_PARTIAL_DEPTH) {
        throw invalid('reference_too_deep', `${written(inc)}: partials would nest more than ${MAX_PARTIAL_DEPTH} deep (${path.join(' -> ')})`, {
          reference: inc.ref,
          max: MAX_PARTIAL_DEPTH,
        });
      }
      let targets: PartialVersion[];
      if (inc.version !== null) {
        const v = await repo.partialByNumber(db, inc.prompt, inc.version);
        if (!v) throw await missing(db, inc, `"${inc.prompt}" has no version ${inc.version}`);
        targets = [v];
      } else if (inc.environment !== null) {
        if (!environments.includes(inc.environment)) {
          throw invalid('invalid_reference', `${written(inc)}: unknown environment "${inc.environment}"; this registry has: ${environments.join(', ')}`, {
            reference: inc.ref,
          });
        }
        targets = await repo.partialLive(db, inc.prompt, inc.environment);
        if (targets.length === 0) throw await missing(db, inc, `nothing of "${inc.prompt}" is live in ${inc.environment}`);
      } else {
        const latest = await repo.partialLatest(db, inc.prompt);
        if (!latest) throw await missing(db, inc, `no prompt named "${inc.prompt}"`);
        const live = await repo.partialLive(db, inc.prompt, null);
        targets = [latest, ...live.filter((v) => v.version_id !== latest.version_id)];
      }
      for (const t of targets) {
        if (t.type !== 'text') {
          throw invalid('invalid_reference', `${written(inc)}: version ${t.version} of "${inc.prompt}" is a chat prompt; a partial must be a text prompt`, {
            reference: inc.ref,
          });
        }
        await visit(t.includes, path);
      }
    }
  };
  await visit(includes, [prompt]);
}

async function missing(db: Queryable, inc: Include, what: string): Promise<AppError> {
  const exists = await repo.findPrompt(db, inc.prompt);
  const message = exists ? what : `no prompt named "${inc.prompt}"`;
  return invalid('invalid_reference', `${written(inc)}: ${message}`, { reference: inc.ref, prompt: inc.prompt });
}
