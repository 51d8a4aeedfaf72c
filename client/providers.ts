/**
 * A rendered prompt as the request body of a provider's API, without its SDK: OpenAI Chat Completions,
 * OpenAI Responses and Anthropic Messages. A text prompt is one user message. `extra` is merged in last
 * (your own parameters, or overrides such as `model`). docs/clients.md, "Provider request shapes".
 */
import type { ChatMessage, JsonSchema, PromptConfig, RenderResult, ToolDefinition } from './types.js';

/** A rendered prompt that a provider's API cannot take as it is: `code` says why. */
export class ProviderFormatError extends Error {
  constructor(
    readonly code: 'missing_model' | 'missing_max_tokens' | 'unsupported_message',
    message: string,
  ) {
    super(message);
    this.name = 'ProviderFormatError';
  }
}

type Rendered = Pick<RenderResult, 'type' | 'text' | 'messages' | 'config'>;
type Body = Record<string, unknown>;

function messagesOf(r: Rendered): ChatMessage[] {
  return r.messages ? r.messages.map((m) => ({ role: m.role, content: m.content })) : [{ role: 'user', content: r.text ?? '' }];
}

/** Copies the keys of `config` that are set, under their names in the request. */
function pick(config: PromptConfig, names: Record<string, string>): Body {
  const out: Body = {};
  for (const [from, to] of Object.entries(names)) if (config[from] !== undefined && config[from] !== null) out[to] = config[from];
  return out;
}

function model(r: Rendered, extra: Body, api: string): string {
  const m = (extra.model as string | undefined) ?? r.config.model;
  if (!m) throw new ProviderFormatError('missing_model', `${api} needs a model: the prompt's config has none; give one in extra`);
  return m;
}

function systemAndRest(r: Rendered, api: string, toolFault: string): { system: string[]; rest: ChatMessage[] } {
  const system: string[] = [];
  const rest: ChatMessage[] = [];
  messagesOf(r).forEach((m, i) => {
    if (m.role === 'system') system.push(m.content);
    else if (m.role === 'tool') throw new ProviderFormatError('unsupported_message', `messages[${i}]: ${api} takes a tool result only with the id of its call (${toolFault})`);
    else rest.push(m);
  });
  return { system, rest };
}

/** OpenAI Chat Completions (`POST /v1/chat/completions`): messages as they are, config's sampling parameters, tools, tool_choice, response_format. */
export function toOpenAIChat(r: Rendered, extra: Body = {}): Body {
  return {
    model: model(r, extra, 'OpenAI Chat Completions'),
    messages: messagesOf(r),
    ...pick(r.config, {
      temperature: 'temperature',
      top_p: 'top_p',
      max_tokens: 'max_completion_tokens',
      stop: 'stop',
      seed: 'seed',
      presence_penalty: 'presence_penalty',
      frequency_penalty: 'frequency_penalty',
      tools: 'tools',
      tool_choice: 'tool_choice',
      response_format: 'response_format',
    }),
    ...extra,
  };
}

/**
 * OpenAI Responses (`POST /v1/responses`): system messages joined as `instructions`, the others as
 * `input`; tools flattened to {type, name, description, parameters, strict}; response_format as `text.format`.
 * Responses has no stop, seed or penalties: they are left out.
 */
export function toOpenAIResponses(r: Rendered, extra: Body = {}): Body {
  const { system, rest } = systemAndRest(r, 'OpenAI Responses', 'a function_call_output item');
  const c = r.config;
  const body: Body = { model: model(r, extra, 'OpenAI Responses') };
  if (system.length) body.instructions = system.join('\n\n');
  body.input = rest;
  Object.assign(body, pick(c, { temperature: 'temperature', top_p: 'top_p', max_tokens: 'max_output_tokens' }));
  if (c.tools?.length) {
    body.tools = c.tools.map((t: ToolDefinition) => ({
      type: 'function',
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      parameters: t.function.parameters ?? { type: 'object', properties: {} },
      // Responses makes function tools strict unless told; Chat Completions does not.
      strict: t.function.strict ?? false,
    }));
  }
  if (c.tool_choice !== undefined) body.tool_choice = typeof c.tool_choice === 'string' ? c.tool_choice : { type: 'function', name: c.tool_choice.function.name };
  const f = c.response_format;
  if (f) {
    body.text = {
      format:
        f.type === 'json_schema'
          ? {
              type: 'json_schema',
              name: f.json_schema.name,
              ...(f.json_schema.description !== undefined ? { description: f.json_schema.description } : {}),
              schema: f.json_schema.schema,
              ...(f.json_schema.strict !== undefined ? { strict: f.json_schema.strict } : {}),
            }
          : { type: f.type },
    };
  }
  return { ...body, ...extra };
}

/**
 * Anthropic Messages (`POST /v1/messages`): system messages joined as `system`; consecutive messages of
 * one role joined (blank line between) so user and assistant alternate; `max_tokens` required (the
 * config's, or extra's); stop as `stop_sequences`; tools as {name, description, input_schema};
 * tool_choice auto/required/none/named as {type: auto/any/none/tool}. Anthropic has no seed, penalties
 * or response_format: they are left out (ask for JSON with a tool, or in the prompt).
 */
export function toAnthropicMessages(r: Rendered, extra: Body = {}): Body {
  const { system, rest } = systemAndRest(r, 'Anthropic Messages', 'a tool_result block');
  const c = r.config;
  const maxTokens = (extra.max_tokens as number | undefined) ?? c.max_tokens;
  if (maxTokens === undefined || maxTokens === null) {
    throw new ProviderFormatError('missing_max_tokens', "Anthropic Messages needs max_tokens: the prompt's config has none; give it in extra");
  }
  const messages: ChatMessage[] = [];
  for (const m of rest) {
    const last = messages[messages.length - 1];
    if (last && last.role === m.role) last.content = `${last.content}\n\n${m.content}`;
    else messages.push({ ...m });
  }
  const body: Body = { model: model(r, extra, 'Anthropic Messages'), max_tokens: maxTokens };
  if (system.length) body.system = system.join('\n\n');
  body.messages = messages;
  Object.assign(body, pick(c, { temperature: 'temperature', top_p: 'top_p' }));
  if (c.stop !== undefined && c.stop !== null) body.stop_sequences = typeof c.stop === 'string' ? [c.stop] : c.stop;
  if (c.tools?.length) {
    body.tools = c.tools.map((t: ToolDefinition) => ({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? ({ type: 'object', properties: {} } as JsonSchema),
    }));
  }
  const choice = c.tool_choice;
  if (choice !== undefined) {
    body.tool_choice =
      choice === 'auto' ? { type: 'auto' } : choice === 'required' ? { type: 'any' } : choice === 'none' ? { type: 'none' } : { type: 'tool', name: choice.function.name };
  }
  return { ...body, ...extra };
}
