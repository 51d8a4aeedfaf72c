/**
 * The shared chat vectors (test/vectors/chat.json), run by the TypeScript client; the Python client runs
 * them too (python/tests/test_chat_vectors.py). Every expected rendering is also checked against plain
 * Handlebars with the partials registered under their references: the vectors hold Handlebars' semantics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { fromResolved, type BundleEntry } from '../../client/bundle.js';
import {
  compilePrompt,
  DEFAULT_TEMPLATE_LIMITS,
  InvalidInputError,
  ProviderFormatError,
  renderCompiled,
  TemplateError,
  toAnthropicMessages,
  toOpenAIChat,
  toOpenAIResponses,
  type ChatMessage,
  type Placeholders,
  type PromptMessage,
  type RenderResult,
} from '../../client/index.js';

interface RenderVector {
  name: string;
  prompt: Omit<BundleEntry, 'version_number' | 'deployed_at' | 'model' | 'temperature' | 'max_tokens' | 'variables' | 'metadata' | 'content_hash'> & {
    name: string;
    version: number;
  };
  variables: Record<string, unknown>;
  placeholders?: Placeholders;
  expected?: { type: string; text: string | null; messages: ChatMessage[] | null; partials_used: Array<{ prompt: string; version: number; version_id: string }> };
  error?: { code: string; field?: string; variable?: string; message?: string };
}

interface ProviderVector {
  name: string;
  rendered: Pick<RenderResult, 'type' | 'text' | 'messages' | 'config'>;
  extra?: Record<string, unknown>;
  openai_chat: Record<string, unknown>;
  openai_responses: Record<string, unknown>;
  anthropic: Record<string, unknown>;
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/chat.json', import.meta.url), 'utf8')) as { render: RenderVector[]; providers: ProviderVector[] };

function render(v: RenderVector): RenderResult {
  const p = v.prompt;
  const prompt = fromResolved(
    p.name,
    'production',
    { ...p, version_number: p.version, deployed_at: '2026-01-01T00:00:00Z', model: 'gpt-4o', temperature: 0, max_tokens: 500, variables: [], metadata: {}, content_hash: 'h' },
    'registry',
  );
  return renderCompiled(prompt, compilePrompt(prompt, DEFAULT_TEMPLATE_LIMITS), v.variables, v.placeholders, DEFAULT_TEMPLATE_LIMITS);
}

/** Plain Handlebars, partials registered under their references: what the expected text must be. */
function oracle(v: RenderVector): { text: string | null; messages: ChatMessage[] | null } {
  const hbs = Handlebars.create();
  for (const [ref, partial] of Object.entries(v.prompt.partials ?? {})) hbs.registerPartial(ref, partial.content);
  const run = (source: string) => hbs.compile(source, { noEscape: true })(v.variables);
  if (v.prompt.type !== 'chat') return { text: run(v.prompt.content!), messages: null };
  const messages = (v.prompt.messages as PromptMessage[]).flatMap((m) =>
    'role' in m ? [{ role: m.role, content: run(m.content) }] : (v.placeholders?.[m.name] ?? []),
  );
  return { text: null, messages };
}

describe('shared chat vectors: rendering (TypeScript client)', () => {
  it('cover chat, placeholders, partials and input schemas, with every error code', () => {
    const codes = new Set(vectors.render.flatMap((v) => (v.error ? [v.error.code] : [])));
    for (const c of ['invalid_variables', 'invalid_placeholders', 'unknown_placeholder', 'missing_partial', 'reference_cycle', 'reference_too_deep', 'missing_variable']) {
      assert.ok(codes.has(c), c);
    }
  });

  for (const v of vectors.render) {
    it(v.name, () => {
      if (v.expected) {
        const r = render(v);
        assert.deepEqual(
          { type: r.type, text: r.text, messages: r.messages, partials_used: r.partialsUsed.map((u) => ({ prompt: u.prompt, version: u.version, version_id: u.versionId })) },
          v.expected,
        );
        // Defaults change the variables the oracle would see: those vectors are checked by the client alone.
        if (!v.prompt.input_schema) assert.deepEqual(oracle(v), { text: v.expected.text, messages: v.expected.messages });
        return;
      }
      const e = v.error!;
      assert.throws(
        () => render(v),
        (err: unknown) => {
          assert.ok(err instanceof TemplateError || err instanceof InvalidInputError, String(err));
          assert.equal(err.code, e.code, err.message);
          if (e.message !== undefined) assert.equal(err.message, e.message);
          if (e.field !== undefined) assert.equal((err as InvalidInputError).field, e.field);
          if (e.variable !== undefined) assert.equal((err as TemplateError).details.variable, e.variable);
          return true;
        },
      );
    });
  }
});

describe('shared chat vectors: provider request shapes (TypeScript client)', () => {
  const helpers = { openai_chat: toOpenAIChat, openai_responses: toOpenAIResponses, anthropic: toAnthropicMessages } as const;
  for (const v of vectors.providers) {
    for (const [key, helper] of Object.entries(helpers) as Array<[keyof typeof helpers, (typeof helpers)[keyof typeof helpers]]>) {
      it(`${v.name}: ${key}`, () => {
        const expected = v[key];
        if ('error' in expected) {
          assert.throws(() => helper(v.rendered, v.extra), (err: unknown) => err instanceof ProviderFormatError && err.code === expected.error);
        } else {
          const before = JSON.stringify(v.rendered);
          assert.deepEqual(helper(v.rendered, v.extra), expected);
          assert.equal(JSON.stringify(v.rendered), before, 'the rendered prompt is left as it was');
        }
      });
    }
  }
});
