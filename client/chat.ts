import { renderTemplates, templateLimits, type CompiledTemplate, type TemplateLimits } from '../shared/templates/index.js';
import { InvalidInputError } from './errors.js';
import { applyInputSchema } from './input-schema.js';
import { compileWithPartials } from './partials.js';
import type { ChatMessage, ChatRole, PartialUsed, Placeholders, Prompt, RenderResult } from './types.js';

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant', 'tool'];

/** A prompt's templates compiled with their partials: one per template message (null for a placeholder), or the one text template. */
export interface CompiledPrompt {
  templates: Array<CompiledTemplate | null>;
  /** Every partial the templates include (nested ones too), compiled, by reference as written. */
  partials: Record<string, CompiledTemplate>;
  partialsUsed: PartialUsed[];
}

/** Compiles a fetched prompt's templates with the partials its resolve answer carried. */
export function compilePrompt(prompt: Prompt, limits: TemplateLimits = templateLimits()): CompiledPrompt {
  const sources = prompt.type === 'chat' ? (prompt.messages ?? []).map((m) => ('role' in m ? m.content : null)) : [prompt.content ?? ''];
  const { compiled, partials, used } = compileWithPartials(
    prompt.name,
    sources.filter((s): s is string => s !== null),
    prompt.partials,
    limits,
  );
  let next = 0;
  return { templates: sources.map((s) => (s === null ? null : compiled[next++]!)), partials, partialsUsed: used };
}

const NONE: Placeholders = Object.freeze({}) as Placeholders;

/** Placeholder messages as the registry takes them: a list of {role, content} with content plain text. */
function checkPlaceholders(placeholders: unknown): Placeholders {
  if (placeholders === undefined) return {};
  if (typeof placeholders !== 'object' || placeholders === null || Array.isArray(placeholders)) {
    throw new InvalidInputError('invalid_placeholders', 'placeholders', 'placeholders: must be an object of names to lists of messages');
  }
  const out: Placeholders = {};
  for (const [name, list] of Object.entries(placeholders)) {
    const at = `placeholders.${name}`;
    if (!Array.isArray(list)) throw new InvalidInputError('invalid_placeholders', at, `${at}: must be a list of messages`);
    out[name] = list.map((m: unknown, i) => {
      const field = `${at}[${i}]`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new InvalidInputError('invalid_placeholders', field, `${field}: must be a message {role, content}`);
      const { role, content } = m as { role?: unknown; content?: unknown };
      if (!CHAT_ROLES.includes(role as ChatRole)) {
        throw new InvalidInputError('invalid_placeholders', `${field}.role`, `${field}.role: role is one of ${CHAT_ROLES.join(', ')}`);
      }
      if (typeof content !== 'string') throw new InvalidInputError('invalid_placeholders', `${field}.content`, `${field}.content: must be a string`);
      return { role: role as ChatRole, content };
    });
  }
  return out;
}

/**
 * Renders a fetched prompt locally, as the registry's render does: placeholder messages checked,
 * variables checked against the input schema (defaults filled in) or, without one, every variable
 * used required; chat messages in order with placeholders filled and partials expanded.
 * The render budgets hold for the whole prompt, as in the registry.
 */
export function renderCompiled(
  prompt: Prompt,
  compiled: CompiledPrompt,
  variables: Record<string, unknown>,
  placeholders: Placeholders | undefined,
  limits: TemplateLimits,
): RenderResult {
  const filled = placeholders === undefined ? NONE : checkPlaceholders(placeholders);
  const data = prompt.inputSchema ? applyInputSchema(prompt.inputSchema, variables) : variables;
  for (const name in filled) {
    if (!prompt.messages?.some((m) => 'type' in m && m.type === 'placeholder' && m.name === name)) {
      const field = `placeholders.${name}`;
      throw new InvalidInputError('unknown_placeholder', field, `${field}: "${prompt.name}" version ${prompt.version} has no placeholder "${name}"`);
    }
  }
  // The templates share one render budget and the partials, as in the registry (placeholders are the caller's text).
  const outputs = renderTemplates(
    compiled.templates.filter((t): t is CompiledTemplate => t !== null),
    data,
    compiled.partials,
    limits,
  );
  if (prompt.type !== 'chat') return { type: prompt.type, text: outputs[0]!, messages: null, config: prompt.config, partialsUsed: compiled.partialsUsed };
  const messages: ChatMessage[] = [];
  let next = 0;
  for (const m of prompt.messages ?? []) {
    if ('role' in m) messages.push({ role: m.role, content: outputs[next++]! });
    else for (const p of filled[m.name] ?? []) messages.push({ ...p });
  }
  return { type: prompt.type, text: null, messages, config: prompt.config, partialsUsed: compiled.partialsUsed };
}
