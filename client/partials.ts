/**
 * Partials for local rendering: `{{> safety}}`, `{{> "safety@3"}}`, `{{> "safety@production"}}`, resolved
 * from the partials a resolve answer carries (by reference as written, nested ones flattened).
 *
 * Each partial is compiled on its own and given to the template engine as a native Handlebars partial,
 * as the registry renders them (server/templates), so the output is the registry's to the character,
 * whitespace of standalone and indented partials included.
 */
import { compileTemplate, TemplateError, type CompiledTemplate, type TemplateLimits } from '../shared/templates/index.js';
import type { TemplateErrorCode } from '../shared/templates/errors.js';
import type { PartialUsed, ResolvedPartial } from './types.js';

/** How deep partials may nest (a partial including a partial ...), as the registry allows. */
export const MAX_PARTIAL_DEPTH = 8;

// The registry checks references when a version is created (400 reference_cycle, reference_too_deep);
// the client checks again what a resolve answer or a bundle gives it, with the same codes.
const code = (c: string) => c as TemplateErrorCode;

/**
 * The templates of one prompt with their partials, checked and compiled: each template (and each
 * partial) within the compile limits on its own, as the registry checks them; the partial tree
 * without a missing partial, a cycle or more than MAX_PARTIAL_DEPTH levels.
 */
export function compileWithPartials(
  promptName: string,
  templates: readonly string[],
  partials: Readonly<Record<string, ResolvedPartial>>,
  limits: TemplateLimits,
): { compiled: CompiledTemplate[]; partials: Record<string, CompiledTemplate>; used: PartialUsed[] } {
  const compiledPartials: Record<string, CompiledTemplate> = {};
  const used: PartialUsed[] = [];
  const seenVersions = new Set<string>();
  const checked = new Map<string, number>();
  const walk = (template: CompiledTemplate, chain: string[]) => {
    for (const ref of template.partials) {
      const partial = partials[ref];
      if (!partial) throw new TemplateError('missing_partial', `the partial "${ref}" was not given`, { partial: ref });
      if (chain.includes(partial.prompt)) {
        const cycle = [...chain, partial.prompt];
        throw new TemplateError(code('reference_cycle'), `the partials make a cycle: ${cycle.join(' -> ')}`, { chain: cycle });
      }
      if (chain.length > MAX_PARTIAL_DEPTH) {
        throw new TemplateError(code('reference_too_deep'), `partials nest more than ${MAX_PARTIAL_DEPTH} deep: ${[...chain, partial.prompt].join(' -> ')}`, {
          max: MAX_PARTIAL_DEPTH,
        });
      }
      if (!seenVersions.has(partial.version_id)) {
        seenVersions.add(partial.version_id);
        used.push({ prompt: partial.prompt, version: partial.version, versionId: partial.version_id });
      }
      // Checked from this depth (or a shallower one) already: its subtree fits.
      if ((checked.get(ref) ?? Infinity) <= chain.length) continue;
      compiledPartials[ref] ??= compileTemplate(partial.content, limits);
      walk(compiledPartials[ref], [...chain, partial.prompt]);
      checked.set(ref, chain.length);
    }
  };
  const compiled = templates.map((t) => compileTemplate(t, limits));
  for (const t of compiled) walk(t, [promptName]);
  return { compiled, partials: compiledPartials, used };
}
