/**
 * Prompty (`.prompty`, Microsoft's prompt file) to a chat `.prompt` file:
 * YAML front matter (name, description, tags, model.configuration,
 * model.parameters, inputs, sample), then a body whose `system:`, `user:` and
 * `assistant:` lines start messages, with Jinja-style `{{var}}` variables.
 * Jinja's simple statements (`{% for x in xs %}`, `{% if x %}`, `{% else %}`,
 * `{% endfor %}`, `{% endif %}`, `{# comment #}`) become Handlebars; anything
 * else is kept in a Handlebars comment and reported. Pure: no `vscode` import.
 */
import { parse } from 'yaml';
import type { ChatMessage, Role } from '../../shared/prompt-files/chat-template.js';
import type { JsonSchema } from '../../shared/prompt-files/picoschema.js';
import { formatPromptFile, type PromptConfig } from '../../shared/prompt-files/prompt-file.js';

export interface PromptyImport {
  name: string;
  /** The `.prompt` file, Dotprompt form. */
  text: string;
  /** What did not convert cleanly, by line of the `.prompty` file. */
  warnings: string[];
}

const ROLE_LINE = /^\s*#?\s*(system|user|assistant|tool|function)\s*:\s*$/i;
const PARAMETERS: Record<string, string> = {
  max_tokens: 'max_tokens',
  temperature: 'temperature',
  top_p: 'top_p',
  stop: 'stop',
  seed: 'seed',
  presence_penalty: 'presence_penalty',
  frequency_penalty: 'frequency_penalty',
  response_format: 'response_format',
  tools: 'tools',
  tool_choice: 'tool_choice',
};

/** A registry name from Prompty's free-text name: "Basic Prompt" -> "basic-prompt". */
export function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '');
  return s.slice(0, 255) || 'imported-prompt';
}

/** Jinja to Handlebars, line by line; what has no Handlebars form is kept and reported. */
function jinjaToHandlebars(text: string, firstLine: number, warnings: string[]): string {
  return text
    .split('\n')
    .map((line, i) => {
      const where = `line ${firstLine + i}`;
      let out = line.replace(/\{#([\s\S]*?)#\}/g, (_m, c: string) => `{{!--${c}--}}`);
      out = out.replace(/\{%-?\s*([\s\S]*?)\s*-?%\}/g, (m, stmt: string) => {
        let s: RegExpExecArray | null;
        if ((s = /^for\s+(\w+)\s+in\s+([\w.]+)$/.exec(stmt))) return `{{#each ${s[2]} as |${s[1]}|}}`;
        if (stmt === 'endfor') return '{{/each}}';
        if ((s = /^if\s+([\w.]+)$/.exec(stmt))) return `{{#if ${s[1]}}}`;
        if ((s = /^if\s+not\s+([\w.]+)$/.exec(stmt))) return `{{#unless ${s[1]}}}`;
        if (stmt === 'else') return '{{else}}';
        if (stmt === 'endif') return '{{/if}}';
        warnings.push(`${where}: "${m}" has no Handlebars form; kept as a comment`);
        return `{{!-- ${m} --}}`;
      });
      out = out.replace(/\{\{\s*([^{}]*?)\s*\}\}/g, (m, expr: string) => {
        if (/^[A-Za-z_][\w.]*$/.test(expr)) return `{{${expr}}}`;
        if (expr.startsWith('!') || expr.startsWith('#') || expr.startsWith('/') || expr === 'else' || /^#?each |^#?if |^#?unless /.test(expr)) return m;
        // `{{ x | upper }}`: the variable stays, the filter becomes a comment to redo by hand.
        const filtered = /^([A-Za-z_][\w.]*)\s*\|(.*)$/.exec(expr);
        if (filtered) {
          warnings.push(`${where}: the Jinja filter in "${m}" has no Handlebars form; the variable is kept, the filter left in a comment`);
          return `{{${filtered[1]}}}{{!-- |${filtered[2]} --}}`;
        }
        warnings.push(`${where}: "${m}" (a Jinja expression) has no Handlebars form; kept as a comment`);
        return `{{!-- ${m} --}}`;
      });
      return out;
    })
    .join('\n');
}

interface PromptyInput {
  type?: string;
  description?: string;
  default?: unknown;
  sample?: unknown;
}

const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object'];

/** Converts a `.prompty` document; `fileName` names the prompt when the front matter does not. */
export function importPrompty(source: string, fileName: string): PromptyImport {
  const warnings: string[] = [];
  const m = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*\r?\n?([\s\S]*)$/.exec(source);
  const front = (m ? (parse(m[1]!) as Record<string, unknown> | null) : null) ?? {};
  const body = m ? m[2]! : source;
  const bodyFirstLine = m ? m[1]!.split('\n').length + 3 : 1;

  const model = (front.model ?? {}) as { api?: string; configuration?: Record<string, unknown>; parameters?: Record<string, unknown> };
  if (model.api && model.api !== 'chat') warnings.push(`model.api is "${model.api}": imported as a chat prompt`);
  const config: PromptConfig = {};
  const cfg = model.configuration ?? {};
  const modelName = cfg.azure_deployment ?? cfg.model ?? cfg.name;
  if (typeof modelName === 'string') config.model = modelName;
  for (const [key, value] of Object.entries(model.parameters ?? {})) {
    const ours = PARAMETERS[key];
    if (ours) config[ours] = value;
    else {
      config[key] = value;
      warnings.push(`model.parameters.${key} is kept in config as given`);
    }
  }

  // inputs: { name: { type, description, default, sample } } or { name: "a sample value" }.
  const samples: Record<string, unknown> = { ...((typeof front.sample === 'object' && front.sample) || {}) };
  if (typeof front.sample === 'string') warnings.push(`sample: "${front.sample}" names a file; copy its values under promptRegistry.samples`);
  const properties: Record<string, JsonSchema> = {};
  for (const [name, raw] of Object.entries((front.inputs ?? {}) as Record<string, unknown>)) {
    const input: PromptyInput = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as PromptyInput) : { sample: raw };
    const prop: JsonSchema = {};
    if (input.type && JSON_TYPES.includes(input.type)) prop.type = input.type;
    if (input.description) prop.description = input.description;
    if (input.default !== undefined) prop.default = input.default;
    properties[name] = prop;
    if (input.sample !== undefined && !(name in samples)) samples[name] = input.sample;
  }

  const messages: ChatMessage[] = [];
  const lines = body.split('\n');
  let role: Role = 'system';
  let start = 0;
  const flush = (end: number) => {
    const content = jinjaToHandlebars(lines.slice(start, end).join('\n'), bodyFirstLine + start, warnings).replace(/^\s*\n/, '').replace(/\s+$/, '');
    if (content.trim()) messages.push({ role, content });
  };
  lines.forEach((line, i) => {
    const r = ROLE_LINE.exec(line);
    if (!r) return;
    flush(i);
    const word = r[1]!.toLowerCase();
    if (word === 'function') warnings.push(`line ${bodyFirstLine + i}: a "function:" message is imported as a tool message`);
    role = word === 'function' ? 'tool' : (word as Role);
    start = i + 1;
  });
  flush(lines.length);
  if (!messages.length) warnings.push('the body has no messages');

  const name = slug(typeof front.name === 'string' ? front.name : fileName.replace(/\.prompty$/i, ''));
  const tags = Array.isArray(front.tags) ? front.tags.map(String) : undefined;
  const text = formatPromptFile({
    name,
    description: typeof front.description === 'string' ? front.description : null,
    tags,
    type: 'chat',
    messages,
    config,
    input_schema: Object.keys(properties).length ? { type: 'object', properties } : null,
    samples,
  });
  return { name, text, warnings };
}
