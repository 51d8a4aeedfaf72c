import type { ProviderKind } from './schemas.js';

/**
 * The provider-neutral request and answer of a model call, and their mapping
 * to and from the two wire formats: OpenAI Chat Completions (and everything
 * compatible: Azure OpenAI, vLLM, Ollama, LM Studio) and Anthropic Messages.
 * Pure functions: no I/O here.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCall[] | undefined;
  tool_call_id?: string | undefined;
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** What a run sends: the rendered messages and the version's config (sampling, tools, tool_choice, response_format, and keys passed as given). */
export interface ModelRequest {
  model: string;
  messages: ChatMessage[];
  config: Record<string, unknown>;
}

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
}

export interface ModelAnswer {
  /** The assistant's text; null when it answered only tool calls. */
  text: string | null;
  message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] };
  usage: Usage;
  finish_reason: string | null;
  model: string | null;
}

/** The answer was not what the wire format says: the caller answers 502 with this message. */
export class MalformedAnswer extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null);

/** The endpoint for a kind: base_url is the API root (…/v1 for OpenAI-compatible servers, the host for Anthropic). */
export function endpoint(kind: ProviderKind, baseUrl: string | null): string {
  if (kind === 'openai') return `${(baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '')}/chat/completions`;
  const base = (baseUrl ?? 'https://api.anthropic.com').replace(/\/+$/, '');
  return base.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`;
}

export const ANTHROPIC_VERSION = '2023-06-01';

export function authHeaders(kind: ProviderKind, apiKey: string | null): Record<string, string> {
  if (!apiKey) return kind === 'anthropic' ? { 'anthropic-version': ANTHROPIC_VERSION } : {};
  return kind === 'openai' ? { authorization: `Bearer ${apiKey}` } : { 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION };
}

/** Keys of the config that are ours, not the provider's. */
const NOT_SENT = new Set(['model']);

// ---------- OpenAI Chat Completions ----------

export function openAiBody(req: ModelRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.config)) if (!NOT_SENT.has(k) && v !== undefined && v !== null) body[k] = v;
  body.model = req.model;
  body.messages = req.messages.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}),
    ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
  }));
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function toolCallsOf(v: unknown): ToolCall[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new MalformedAnswer('choices[0].message.tool_calls is not a list');
  return v.map((c, i) => {
    if (!isObject(c) || !isObject(c.function) || typeof c.function.name !== 'string') throw new MalformedAnswer(`choices[0].message.tool_calls[${i}] has no function name`);
    const args = c.function.arguments;
    return { id: typeof c.id === 'string' ? c.id : `call_${i}`, type: 'function', function: { name: c.function.name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) } };
  });
}

export function parseOpenAiAnswer(body: unknown): ModelAnswer {
  if (!isObject(body) || !Array.isArray(body.choices) || !isObject(body.choices[0])) throw new MalformedAnswer('the answer has no choices[0]');
  const choice = body.choices[0];
  const message = choice.message;
  if (!isObject(message)) throw new MalformedAnswer('choices[0] has no message');
  if (message.content !== null && message.content !== undefined && typeof message.content !== 'string') throw new MalformedAnswer('choices[0].message.content is not text');
  const content = (message.content as string | null | undefined) ?? null;
  const toolCalls = toolCallsOf(message.tool_calls);
  const usage = isObject(body.usage) ? body.usage : {};
  return {
    text: content,
    message: { role: 'assistant', content, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) },
    usage: { input_tokens: count(usage.prompt_tokens), output_tokens: count(usage.completion_tokens) },
    finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    model: typeof body.model === 'string' ? body.model : null,
  };
}

// ---------- Anthropic Messages ----------

const DEFAULT_ANTHROPIC_MAX_TOKENS = 1024;

function anthropicToolChoice(choice: unknown): unknown {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === 'string') return { type: 'tool', name: choice.function.name };
  return choice;
}

/**
 * System messages become `system`; tools take `input_schema` from `parameters`; `stop` becomes
 * `stop_sequences`; `required` tool choice is `any`. OpenAI-only keys with no Messages equivalent
 * (seed, penalties, response_format, n) are not sent; others are passed as given.
 */
export function anthropicBody(req: ModelRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const dropped = new Set(['model', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format', 'n', 'logit_bias', 'stream_options']);
  for (const [k, v] of Object.entries(req.config)) {
    if (dropped.has(k) || v === undefined || v === null) continue;
    if (k === 'stop') body.stop_sequences = Array.isArray(v) ? v : [v];
    else if (k === 'tools' && Array.isArray(v)) {
      body.tools = v.map((t: unknown) => {
        const f = isObject(t) && isObject(t.function) ? t.function : {};
        return { name: f.name, ...(f.description !== undefined ? { description: f.description } : {}), input_schema: f.parameters ?? { type: 'object', properties: {} } };
      });
    } else if (k === 'tool_choice') body.tool_choice = anthropicToolChoice(v);
    else body[k] = v;
  }
  body.model = req.model;
  body.max_tokens ??= DEFAULT_ANTHROPIC_MAX_TOKENS;
  const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
  if (system.length) body.system = system.join('\n\n');
  body.messages = req.messages
    .filter((m) => m.role !== 'system')
    .map((m) => {
      if (m.role === 'tool') return { role: 'user', content: m.tool_call_id ? [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: m.content }] : m.content };
      if (m.role === 'assistant' && m.tool_calls?.length) {
        const blocks: unknown[] = m.content ? [{ type: 'text', text: m.content }] : [];
        for (const c of m.tool_calls) blocks.push({ type: 'tool_use', id: c.id, name: c.function.name, input: safeJson(c.function.arguments) });
        return { role: 'assistant', content: blocks };
      }
      return { role: m.role, content: m.content };
    });
  if (stream) body.stream = true;
  return body;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

export function parseAnthropicAnswer(body: unknown): ModelAnswer {
  if (!isObject(body) || !Array.isArray(body.content)) throw new MalformedAnswer('the answer has no content list');
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  body.content.forEach((block: unknown, i) => {
    if (!isObject(block)) throw new MalformedAnswer(`content[${i}] is not a block`);
    if (block.type === 'text') {
      if (typeof block.text !== 'string') throw new MalformedAnswer(`content[${i}].text is not text`);
      text = (text ?? '') + block.text;
    } else if (block.type === 'tool_use') {
      if (typeof block.name !== 'string') throw new MalformedAnswer(`content[${i}] (tool_use) has no name`);
      toolCalls.push({ id: typeof block.id === 'string' ? block.id : `toolu_${i}`, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  });
  const usage = isObject(body.usage) ? body.usage : {};
  return {
    text,
    message: { role: 'assistant', content: text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
    usage: { input_tokens: count(usage.input_tokens), output_tokens: count(usage.output_tokens) },
    finish_reason: typeof body.stop_reason === 'string' ? body.stop_reason : null,
    model: typeof body.model === 'string' ? body.model : null,
  };
}

// ---------- Streaming: one accumulator per wire format, fed the SSE events' data ----------

export interface StreamAccumulator {
  /** Takes one SSE event; answers the text delta it carried (may be ''), or 'done' at the end. */
  push(event: string | undefined, data: string): string | 'done';
  finish(): ModelAnswer;
}

function parseData(data: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new MalformedAnswer(`a stream event is not JSON: ${data.slice(0, 80)}`);
  }
  if (!isObject(parsed)) throw new MalformedAnswer('a stream event is not a JSON object');
  return parsed;
}

export function openAiStream(): StreamAccumulator {
  let text: string | null = null;
  const calls: Array<{ id: string; name: string; arguments: string }> = [];
  const usage: Usage = { input_tokens: null, output_tokens: null };
  let finish: string | null = null;
  let model: string | null = null;
  let done = false;
  return {
    push(_event, data) {
      if (data.trim() === '[DONE]') {
        done = true;
        return 'done';
      }
      const chunk = parseData(data);
      if (isObject(chunk.error)) throw new MalformedAnswer(`the provider reported an error mid-stream: ${String(chunk.error.message ?? 'unknown')}`);
      if (typeof chunk.model === 'string') model = chunk.model;
      if (isObject(chunk.usage)) {
        usage.input_tokens = count(chunk.usage.prompt_tokens);
        usage.output_tokens = count(chunk.usage.completion_tokens);
      }
      const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : undefined;
      if (!choice) return '';
      if (typeof choice.finish_reason === 'string') finish = choice.finish_reason;
      const delta = isObject(choice.delta) ? choice.delta : {};
      if (Array.isArray(delta.tool_calls)) {
        for (const d of delta.tool_calls as unknown[]) {
          if (!isObject(d)) continue;
          const index = typeof d.index === 'number' ? d.index : calls.length;
          const call = (calls[index] ??= { id: '', name: '', arguments: '' });
          if (typeof d.id === 'string') call.id = d.id;
          if (isObject(d.function)) {
            if (typeof d.function.name === 'string') call.name += d.function.name;
            if (typeof d.function.arguments === 'string') call.arguments += d.function.arguments;
          }
        }
      }
      if (typeof delta.content === 'string' && delta.content) {
        text = (text ?? '') + delta.content;
        return delta.content;
      }
      return '';
    },
    finish() {
      if (!done && finish === null) throw new MalformedAnswer('the stream ended before the answer was complete');
      const toolCalls: ToolCall[] = calls.filter(Boolean).map((c, i) => ({ id: c.id || `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      return { text, message: { role: 'assistant', content: text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) }, usage, finish_reason: finish, model };
    },
  };
}

export function anthropicStream(): StreamAccumulator {
  let text: string | null = null;
  const blocks = new Map<number, { id: string; name: string; json: string }>();
  const usage: Usage = { input_tokens: null, output_tokens: null };
  let finish: string | null = null;
  let model: string | null = null;
  let stopped = false;
  return {
    push(event, data) {
      const e = parseData(data);
      const type = typeof e.type === 'string' ? e.type : event;
      switch (type) {
        case 'message_start': {
          const m = isObject(e.message) ? e.message : {};
          if (typeof m.model === 'string') model = m.model;
          if (isObject(m.usage)) usage.input_tokens = count(m.usage.input_tokens);
          return '';
        }
        case 'content_block_start': {
          const b = isObject(e.content_block) ? e.content_block : {};
          if (b.type === 'tool_use' && typeof e.index === 'number') blocks.set(e.index, { id: String(b.id ?? ''), name: String(b.name ?? ''), json: '' });
          return '';
        }
        case 'content_block_delta': {
          const d = isObject(e.delta) ? e.delta : {};
          if (d.type === 'text_delta' && typeof d.text === 'string') {
            text = (text ?? '') + d.text;
            return d.text;
          }
          if (d.type === 'input_json_delta' && typeof d.partial_json === 'string' && typeof e.index === 'number') {
            const b = blocks.get(e.index);
            if (b) b.json += d.partial_json;
          }
          return '';
        }
        case 'message_delta': {
          if (isObject(e.delta) && typeof e.delta.stop_reason === 'string') finish = e.delta.stop_reason;
          if (isObject(e.usage)) usage.output_tokens = count(e.usage.output_tokens);
          return '';
        }
        case 'message_stop':
          stopped = true;
          return 'done';
        case 'error': {
          const err = isObject(e.error) ? e.error : {};
          throw new MalformedAnswer(`the provider reported an error mid-stream: ${String(err.message ?? 'unknown')}`);
        }
        default:
          return '';
      }
    },
    finish() {
      if (!stopped) throw new MalformedAnswer('the stream ended before message_stop');
      const toolCalls: ToolCall[] = [...blocks.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, b]) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: b.json || '{}' } }));
      return { text, message: { role: 'assistant', content: text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) }, usage, finish_reason: finish, model };
    },
  };
}
