/**
 * The TypeScript client with chat prompts, end to end through its public API: a chat prompt with a
 * partial and a placeholder served from a bundle (the registry unreachable), rendered locally, run
 * through `execute` and turned into a provider request. The rendering rules themselves are in the
 * shared vectors (chat-vectors.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError, PromptRegistryClient, TemplateError, toAnthropicMessages, toOpenAIChat } from '../../client/index.js';

const entry = (over: Record<string, unknown>) => ({
  content: null,
  model: 'gpt-4o',
  temperature: 0.3,
  max_tokens: 300,
  variables: [],
  metadata: {},
  version_number: 2,
  version_id: '11111111-1111-4111-8111-111111111111',
  content_hash: 'h',
  deployed_at: '2026-01-01T00:00:00.000Z',
  config: { model: 'gpt-4o', temperature: 0.3, max_tokens: 300 },
  input_schema: null,
  includes: [],
  partials: {},
  ...over,
});

describe('TypeScript client: chat prompts from a bundle', () => {
  let dir: string;
  let client: PromptRegistryClient;
  const history = [
    { role: 'user' as const, content: 'My order is late.' },
    { role: 'assistant' as const, content: 'What is the order number?' },
  ];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pr-chat-'));
    const bundle = join(dir, 'bundle.json');
    writeFileSync(
      bundle,
      JSON.stringify({
        format: 'prompt-registry-bundle/v1',
        environment: 'production',
        prompts: {
          support: entry({
            type: 'chat',
            messages: [
              { role: 'system', content: 'You help {{company}} customers.\n{{> "safety@3"}}\n' },
              { type: 'placeholder', name: 'history' },
              { role: 'user', content: '{{question}}' },
            ],
            includes: [{ ref: 'safety@3', prompt: 'safety', version: 3, environment: null }],
            partials: { 'safety@3': { prompt: 'safety', version: 3, version_id: 'p-safety-3', content: 'Never share personal data.\n' } },
            input_schema: {
              type: 'object',
              properties: { company: { type: 'string', default: 'Acme' }, question: { type: 'string', minLength: 1 } },
              required: ['question'],
            },
          }),
          summary: entry({ type: 'text', content: 'Summarise: {{text}}', input_schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } }),
        },
      }),
    );
    // Nothing listens on port 9: every request fails at once and the bundle stands in.
    client = new PromptRegistryClient({ url: 'http://127.0.0.1:9', apiKey: 'k', push: false, bundlePath: bundle, timeoutMs: 500 });
  });
  after(async () => {
    await client.close(50);
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders the messages in order: schema default applied, partial expanded, history in place', async () => {
    const r = await client.renderFull('support', { question: 'It is 42.' }, { placeholders: { history } });
    assert.equal(r.type, 'chat');
    assert.equal(r.text, null);
    assert.deepEqual(r.messages, [
      { role: 'system', content: 'You help Acme customers.\nNever share personal data.\n' },
      ...history,
      { role: 'user', content: 'It is 42.' },
    ]);
    assert.deepEqual(r.partialsUsed, [{ prompt: 'safety', version: 3, versionId: 'p-safety-3' }]);
    assert.deepEqual(r.config, { model: 'gpt-4o', temperature: 0.3, max_tokens: 300 });
  });

  it('refuses bad input before rendering, naming the field', async () => {
    await assert.rejects(client.renderFull('support', { question: '' }), (e: unknown) => e instanceof InvalidInputError && e.code === 'invalid_variables' && e.field === 'variables.question');
    await assert.rejects(
      client.renderFull('support', { question: 'q' }, { placeholders: { history: [{ role: 'robot', content: 'x' }] as never } }),
      (e: unknown) => e instanceof InvalidInputError && e.field === 'placeholders.history[0].role',
    );
    await assert.rejects(client.render('summary', {}), (e: unknown) => e instanceof InvalidInputError && e.message === 'variables.text: is required');
  });

  it('renders a text prompt as before, and says a chat prompt needs renderFull', async () => {
    assert.equal(await client.render('summary', { text: 'hi' }), 'Summarise: hi');
    await assert.rejects(client.render('support', { question: 'q' }), /chat prompt: renderFull\(\)/);
  });

  it('hands execute() the messages and config, which the provider helpers turn into requests', async () => {
    let seen: Record<string, unknown> | undefined;
    const answer = await client.execute('support', { question: 'Hi' }, async (rendered) => {
      seen = toAnthropicMessages(rendered);
      return toOpenAIChat(rendered, { user: 'u1' });
    });
    assert.deepEqual(seen, {
      model: 'gpt-4o',
      max_tokens: 300,
      system: 'You help Acme customers.\nNever share personal data.\n',
      messages: [{ role: 'user', content: 'Hi' }],
      temperature: 0.3,
    });
    assert.equal((answer.messages as unknown[]).length, 2);
    assert.equal(answer.user, 'u1');
    assert.equal(answer.max_completion_tokens, 300);
  });

  it('renders a chat fallback given in code', async () => {
    const c = new PromptRegistryClient({
      url: 'http://127.0.0.1:9',
      apiKey: 'k',
      push: false,
      fallbacks: { greet: { type: 'chat', messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi {{name}}' }] } },
    });
    try {
      const r = await c.renderFull('greet', { name: 'Ann' });
      assert.deepEqual(r.messages, [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Hi Ann' },
      ]);
      await assert.rejects(c.renderFull('greet', {}), (e: unknown) => e instanceof TemplateError && e.code === 'missing_variable');
    } finally {
      await c.close(50);
    }
  });
});
