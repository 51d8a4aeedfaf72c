import { templateLimits, type CompiledTemplate, type TemplateLimits } from '../shared/templates/index.js';
import { outputExceeded, longerThan } from '../shared/templates/limits.js';
import { InvalidInputError } from './errors.js';
import { applyInputSchema } from './input-schema.js';
import { compileWithPartials } from './partials.js';
import type { ChatMessage, ChatRole, PartialUsed, Placeholders, Prompt, RenderResult } from './types.js';

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant', 'tool'];

/** A prompt's templates compiled with their partials: one per template message (null for a placeholder), or the one text template. */
export interface CompiledPrompt {
  templates: Array<CompiledTemplate | null>;
  partialsUsed: PartialUsed[];
}

/** Compiles a fetched prompt's templates with the partials its resolve answer carried. */
export function compilePrompt(prompt: Prompt, limits: TemplateLimits = templateLimits()): CompiledPrompt {
  const sources = prompt.type === 'chat' ? (prompt.messages ?? []).map((m) => ('role' in m ? m.content : null)) : [prompt.content ?? ''];
  const { compiled, used } = compileWithPartials(
    prompt.name,
    sources.filter((s): s is string => s !== null),
    prompt.partials,
    limits,
  );
  let next = 0;
  return { templates: sources.map((s) => (s === null ? null : compiled[next++]!)), partialsUsed: used };
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
 * The output budget holds for the whole prompt; the other render budgets for each template.
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
  if (prompt.type !== 'chat') {
    return { type: prompt.type, text: compiled.templates[0]!.render(data), messages: null, config: prompt.config, partialsUsed: compiled.partialsUsed };
  }
  const messages: ChatMessage[] = [];
  const outputs: string[] = [];
  let total = 0;
  (prompt.messages ?? []).forEach((m, i) => {
    if ('role' in m) {
      const content = compiled.templates[i]!.render(data);
      total += content.length;
      outputs.push(content);
      messages.push({ role: m.role, content });
    } else {
      for (const p of filled[m.name] ?? []) messages.push({ ...p });
    }
  });
  // The messages' templates share one output budget, as in the registry (placeholders are the caller's text).
  if (total > limits.maxOutputChars && longerThan(outputs.join(''), limits.maxOutputChars)) throw outputExceeded(limits.maxOutputChars);
  return { type: prompt.type, text: null, messages, config: prompt.config, partialsUsed: compiled.partialsUsed };
}
