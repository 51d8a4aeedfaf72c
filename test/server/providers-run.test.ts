import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createParser } from 'eventsource-parser';
import { pino } from 'pino';
import { DEFAULT_APP_OPTIONS } from '../../server/app.js';
import { serverConfig, type ServerConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/main.js';
import { backoffMs, DEFAULT_PROVIDER_CALL_OPTIONS, retryAfterMs } from '../../server/providers/client.js';
import { anthropicBody, openAiBody, parseOpenAiAnswer, MalformedAnswer } from '../../server/providers/wire.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { MockProvider } from '../support/mock-provider.js';
import { freePort } from '../support/process.js';
import { ADMIN_KEY, api, TEST_SECRET, type Api } from '../support/server.js';

const OPENAI_KEY = 'sk-test-openai-5f2c9a1b7e3d4c6a8b0e';
const ANTHROPIC_KEY = 'sk-ant-test-9d8c7b6a5f4e3d2c1b0a';
const TIMEOUT_MS = 2_000;

describe('provider wire formats', () => {
  it('maps a chat request with tools, tool_choice and response_format to Chat Completions as given', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', description: 'find', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    const body = openAiBody(
      { model: 'gpt-x', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], config: { temperature: 0.2, tools, tool_choice: 'required', response_format: { type: 'json_object' }, model: 'ignored' } },
      true,
    );
    assert.equal(body.model, 'gpt-x');
    assert.deepEqual(body.tools, tools);
    assert.equal(body.tool_choice, 'required');
    assert.deepEqual(body.response_format, { type: 'json_object' });
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('maps the same request to Anthropic Messages: system apart, input_schema, any, stop_sequences, max_tokens', () => {
    const parameters = { type: 'object', properties: { q: { type: 'string' } } };
    const body = anthropicBody(
      {
        model: 'claude-x',
        messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }],
        config: { tools: [{ type: 'function', function: { name: 'lookup', parameters } }], tool_choice: 'required', stop: 'END', seed: 3, response_format: { type: 'json_object' } },
      },
      false,
    );
    assert.equal(body.system, 'be brief');
    assert.deepEqual(body.messages, [{ role: 'user', content: 'hi' }]);
    assert.deepEqual(body.tools, [{ name: 'lookup', input_schema: parameters }]);
    assert.deepEqual(body.tool_choice, { type: 'any' });
    assert.deepEqual(body.stop_sequences, ['END']);
    assert.equal(body.max_tokens, 1024);
    assert.equal('seed' in body, false);
    assert.equal('response_format' in body, false);
  });

  it('reads tool calls from an answer and refuses one with no choices', () => {
    const a = parseOpenAiAnswer({ choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }, finish_reason: 'tool_calls' }] });
    assert.equal(a.text, null);
    assert.equal(a.message.tool_calls?.[0]?.function.name, 'lookup');
    assert.throws(() => parseOpenAiAnswer({ nope: 1 }), MalformedAnswer);
  });

  it('reads PROMPT_REGISTRY_PROVIDER_* settings, refusing one it cannot use', () => {
    assert.deepEqual(serverConfig({}, {}).providerCalls, DEFAULT_PROVIDER_CALL_OPTIONS);
    const c = serverConfig({}, { PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS: '2500', PROMPT_REGISTRY_PROVIDER_MAX_RETRIES: '0' }).providerCalls;
    assert.deepEqual([c.timeoutMs, c.maxRetries], [2500, 0]);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS: '5s' }), /PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS/);
  });

  it('reads Retry-After as seconds or a date, and backs off within its bounds', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(retryAfterMs('soon'), undefined);
    for (let n = 0; n < 6; n++) {
      const d = backoffMs(n, { baseDelayMs: 100, maxDelayMs: 1_000 });
      const ceiling = Math.min(1_000, 100 * 2 ** n);
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${n}: ${d}`);
    }
  });
});

interface SseEvent {
  event: string | undefined;
  data: any;
}

async function runStreaming(url: string, path: string, body: unknown): Promise<{ status: number; type: string | null; events: SseEvent[]; json?: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'X-API-Key': ADMIN_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  const type = res.headers.get('content-type');
  if (!type?.includes('text/event-stream')) return { status: res.status, type, events: [], json: JSON.parse(text) };
  const events: SseEvent[] = [];
  createParser({ onEvent: (e) => events.push({ event: e.event, data: JSON.parse(e.data) }) }).feed(text);
  return { status: res.status, type, events };
}

for (const dialect of DIALECTS) {
  describe(`running prompts on providers (${dialect})`, () => {
    const mock = new MockProvider();
    const logLines: string[] = [];
    let db: TestDatabase;
    let running: RunningServer;
    let a: Api;
    let downUrl: string;

    before(async () => {
      await mock.start();
      downUrl = `http://127.0.0.1:${await freePort()}/v1`;
      db = await freshDatabase(dialect);
      const config: ServerConfig = {
        ...DEFAULT_APP_OPTIONS,
        port: 0,
        host: '127.0.0.1',
        databaseUrl: db.url,
        adminKey: ADMIN_KEY,
        secret: TEST_SECRET,
        logLevel: 'debug',
        logRequests: true,
        providerCalls: { timeoutMs: TIMEOUT_MS, maxRetries: 2, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterMs: 5_000 },
      };
      // Every log line is kept: the provider keys must be in none of them.
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      });
      running = await startServer(config, pino({ level: 'debug' }, sink));
      a = api(running.url);
      assert.equal((await a.post('/prompts/greet/versions', { content: 'Say hello to {{name}}.', model: 'mock-1' })).status, 201);
      assert.equal((await a.post('/prompts/greet/deployments', { environment: 'production', version: 1 })).status, 201);
      const prices = { 'mock-1': { input_per_million: 2, output_per_million: 10 } };
      assert.equal((await a.post('/providers', { name: 'mock-openai', kind: 'openai', base_url: mock.openAiBase, api_key: OPENAI_KEY, prices })).status, 201);
      assert.equal((await a.post('/providers', { name: 'mock-anthropic', kind: 'anthropic', base_url: mock.url, api_key: ANTHROPIC_KEY, prices })).status, 201);
      assert.equal((await a.post('/providers', { name: 'down', kind: 'openai', base_url: downUrl, default_model: 'mock-1' })).status, 201);
    });
    after(async () => {
      await running?.close(1_000);
      await db?.drop();
      await mock.close();
    });
    beforeEach(() => mock.reset());

    it('lists providers without keys, and only admins manage them', async () => {
      const list = await a.get('/providers');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items.map((p: any) => [p.name, p.has_api_key]), [['down', false], ['mock-anthropic', true], ['mock-openai', true]]);
      assert.equal((await a.post('/providers', { name: 'mock-openai', kind: 'openai' })).status, 409);
      const bad = await a.post('/providers', { name: 'x', kind: 'gemini' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /kind/);
      const writer = (await a.post('/keys', { name: 'writer', scopes: ['write'] })).body.key as string;
      assert.equal((await api(running.url, writer).get('/providers')).status, 403);
      const patched = await a.patch('/providers/mock-openai', { default_model: 'mock-1' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.default_model, 'mock-1');
      assert.equal(patched.body.has_api_key, true);
    });

    it('runs a text prompt (non-streaming) and logs it as an execution with usage and cost', async () => {
      mock.script({ text: 'Hello, Ada!', usage: { input: 1000, output: 200 } });
      const run = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.output.text, 'Hello, Ada!');
      assert.deepEqual(run.body.usage, { input_tokens: 1000, output_tokens: 200 });
      assert.equal(run.body.cost_usd, (1000 * 2 + 200 * 10) / 1e6);
      assert.equal(run.body.version, 1);
      assert.equal(run.body.environment, 'production');
      // What the provider got: the rendered prompt as a user message, the version's model, the key as a bearer token.
      assert.equal(mock.calls.length, 1);
      assert.deepEqual(mock.calls[0]!.body.messages, [{ role: 'user', content: 'Say hello to Ada.' }]);
      assert.equal(mock.calls[0]!.body.model, 'mock-1');
      assert.equal(mock.calls[0]!.headers.authorization, `Bearer ${OPENAI_KEY}`);
      const e = await a.get(`/executions/${run.body.execution_id}`);
      assert.equal(e.status, 200);
      assert.equal(e.body.response, 'Hello, Ada!');
      assert.equal(e.body.rendered_prompt, 'Say hello to Ada.');
      assert.equal(e.body.input_tokens, 1000);
      assert.equal(e.body.output_tokens, 200);
      assert.equal(e.body.cost_usd, run.body.cost_usd);
      assert.equal(e.body.environment, 'production');
      assert.equal(e.body.metadata.provider, 'mock-openai');
      const stats = await a.get('/prompts/greet/stats');
      assert.equal(stats.status, 200);
      assert.ok(JSON.stringify(stats.body).includes('"count"'));
    });

    it('streams a run as Server-Sent Events (OpenAI and Anthropic), then logs it with usage', async () => {
      for (const provider of ['mock-openai', 'mock-anthropic']) {
        mock.script({ text: 'one two three', usage: { input: 7, output: 3 } });
        const r = await runStreaming(running.url, '/prompts/greet/run', { version: 1, variables: { name: 'Bo' }, provider, stream: true });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        const deltas = r.events.filter((e) => e.event === 'delta').map((e) => e.data.text);
        assert.deepEqual(deltas, ['one ', 'two ', 'three'], provider);
        const done = r.events.at(-1)!;
        assert.equal(done.event, 'done');
        assert.equal(done.data.output.text, 'one two three');
        assert.deepEqual(done.data.usage, { input_tokens: 7, output_tokens: 3 });
        const e = await a.get(`/executions/${done.data.execution_id}`);
        assert.equal(e.body.response, 'one two three');
        assert.equal(e.body.output_tokens, 3);
        assert.equal(e.body.metadata.stream, true);
      }
      assert.equal(mock.calls[1]!.headers['x-api-key'], ANTHROPIC_KEY);
      assert.equal(mock.calls[1]!.body.stream, true);
    });

    it('answers tool calls as the assistant message', async () => {
      mock.script({ toolCalls: [{ name: 'lookup', arguments: { q: 'Ada' } }] });
      const run = await a.post('/prompts/greet/run', { version: 1, variables: { name: 'Ada' }, provider: 'mock-anthropic', config: { tools: [{ type: 'function', function: { name: 'lookup' } }] } });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.output.text, null);
      assert.deepEqual(run.body.output.message.tool_calls, [{ id: 'toolu_0', type: 'function', function: { name: 'lookup', arguments: '{"q":"Ada"}' } }]);
      assert.equal(mock.calls[0]!.body.tools[0].name, 'lookup');
    });

    it('retries a 429 after its Retry-After, and 500 twice, then succeeds', async () => {
      mock.script({ status: 429, retryAfter: '1' }, {});
      const run = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(mock.calls.length, 2);
      assert.ok(mock.calls[1]!.at - mock.calls[0]!.at >= 950, `waited ${mock.calls[1]!.at - mock.calls[0]!.at} ms of the 1 s asked`);

      mock.reset();
      mock.script({ status: 500 }, { status: 503 }, { text: 'third time' });
      const again = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai', stream: true });
      assert.equal(again.status, 200);
      assert.equal(mock.calls.length, 3);
    });

    it('keeps its connection to a provider across runs, decodes a compressed answer, and never follows a redirect', async () => {
      const opened = mock.connections;
      for (let i = 0; i < 3; i++) assert.equal((await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' })).status, 200);
      assert.ok(mock.connections - opened <= 1, `${mock.connections - opened} connections opened for 3 runs one after another`);

      mock.script({ text: 'packed small', gzip: true });
      const packed = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(packed.status, 200, JSON.stringify(packed.body));
      assert.equal(packed.body.output.text, 'packed small');

      mock.reset();
      mock.fallback = { redirectTo: `${mock.openAiBase}/elsewhere` };
      const moved = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(moved.status, 502);
      assert.equal(moved.body.error.code, 'provider_unavailable');
      assert.match(moved.body.error.message, /unexpected redirect/);
      assert.ok(mock.calls.length > 0 && mock.calls.every((c) => c.path.endsWith('/chat/completions')), JSON.stringify(mock.calls.map((c) => c.path)));
    });

    it('answers 502 when the provider is down or keeps failing, 504 when slow, 502 for garbage, each logged as a failed run', async () => {
      const down = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'down' });
      assert.equal(down.status, 502);
      assert.equal(down.body.error.code, 'provider_unavailable');
      assert.match(down.body.error.message, /provider "down" could not be reached/);
      assert.match(down.body.error.message, /after 3 attempts/);
      const failed = await a.get(`/executions/${down.body.error.execution_id}`);
      assert.equal(failed.body.status, 'error');
      assert.equal(failed.body.response, null);

      mock.fallback = { status: 500 };
      const failing = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(failing.status, 502);
      assert.equal(failing.body.error.provider_status, 500);
      assert.equal(mock.calls.length, 3);

      mock.reset();
      mock.script({ delayMs: TIMEOUT_MS * 5 });
      const slow = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(slow.status, 504);
      assert.equal(slow.body.error.code, 'provider_timeout');
      assert.equal(mock.calls.length, 1, 'a timeout is not retried');

      mock.reset();
      mock.script({ raw: '{"choices": "no"}' }, { raw: 'not json at all' });
      for (let i = 0; i < 2; i++) {
        const garbage = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
        assert.equal(garbage.status, 502);
        assert.equal(garbage.body.error.code, 'provider_bad_answer');
        assert.match(garbage.body.error.message, /not a Chat Completions answer/);
      }

      mock.reset();
      mock.script({ status: 401 });
      const refused = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      assert.equal(refused.status, 502);
      assert.equal(refused.body.error.code, 'provider_error');
      assert.equal(mock.calls.length, 1, 'a 4xx is not retried');

      mock.reset();
      mock.script({ text: 'cut short here', cutStream: true });
      const cut = await runStreaming(running.url, '/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai', stream: true });
      assert.equal(cut.status, 200);
      const last = cut.events.at(-1)!;
      assert.equal(last.event, 'error');
      assert.equal(last.data.error.code, 'provider_bad_answer');
      assert.equal((await a.get(`/executions/${last.data.error.execution_id}`)).body.status, 'error');
    });

    it('refuses an unknown provider, a missing variable and a run without the scope, logging nothing', async () => {
      const before = (await a.get('/executions?prompt=greet&limit=100')).body.items.length;
      const unknown = await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'nope' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.code, 'unknown_provider');
      assert.match(unknown.body.error.message, /"nope"/);
      const missing = await a.post('/prompts/greet/run', { variables: {}, provider: 'mock-openai' });
      assert.equal(missing.status, 422);
      assert.match(missing.body.error.message, /name/);
      const reader = (await a.post('/keys', { name: 'reader', scopes: ['read'] })).body.key as string;
      const forbidden = await api(running.url, reader).post('/prompts/greet/run', { variables: { name: 'Ada' } });
      assert.equal(forbidden.status, 403);
      assert.match(forbidden.body.error.message, /"run"/);
      const runner = (await a.post('/keys', { name: 'runner', scopes: ['run'] })).body.key as string;
      assert.equal((await api(running.url, runner).post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' })).status, 200);
      assert.equal((await a.get('/executions?prompt=greet&limit=100')).body.items.length, before + 1);
      assert.equal(mock.calls.length, 1);
    });

    it('runs a draft, logged against the latest version and marked as a draft', async () => {
      const run = await a.post('/prompts/greet/run', { draft: { content: 'Draft: greet {{name}} warmly.' }, variables: { name: 'Cy' }, provider: 'mock-openai' });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.draft, true);
      assert.deepEqual(mock.calls[0]!.body.messages, [{ role: 'user', content: 'Draft: greet Cy warmly.' }]);
      const e = await a.get(`/executions/${run.body.execution_id}`);
      assert.equal(e.body.metadata.draft, true);
      assert.equal(e.body.metadata.base_version, 1);
      assert.equal(e.body.rendered_prompt, 'Draft: greet Cy warmly.');
    });

    it('runs a chat prompt: rendered messages in order (partial expanded, placeholder filled) with its config, streamed, logged with messages', async () => {
      assert.equal((await a.post('/prompts/tone/versions', { content: 'Answer in a {{style}} tone.' })).status, 201);
      const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      const created = await a.post('/prompts/helper/versions', {
        type: 'chat',
        messages: [
          { role: 'system', content: 'You help {{company}}. {{> "tone@1"}}' },
          { type: 'placeholder', name: 'history' },
          { role: 'user', content: 'Question: {{q}}' },
        ],
        model: 'mock-1',
        config: { tools, tool_choice: 'auto', response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } }, stop: ['END'] },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const variables = { company: 'Acme', style: 'friendly', q: 'Where is my order?' };
      const history = [{ role: 'assistant', content: 'Hi, how can I help?' }];
      const system = 'You help Acme. Answer in a friendly tone.';
      const expected = [{ role: 'system', content: system }, ...history, { role: 'user', content: 'Question: Where is my order?' }];
      for (const provider of ['mock-openai', 'mock-anthropic']) {
        mock.reset();
        mock.script({ text: 'on its way', usage: { input: 40, output: 3 } });
        const r = await runStreaming(running.url, '/prompts/helper/run', { version: 1, variables, placeholders: { history }, provider, stream: true });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.events.filter((e) => e.event === 'delta').map((e) => e.data.text), ['on ', 'its ', 'way'], provider);
        const done = r.events.at(-1)!;
        assert.equal(done.event, 'done');
        const body = mock.calls[0]!.body;
        if (provider === 'mock-openai') {
          assert.deepEqual(body.messages, expected);
          assert.deepEqual(body.tools, tools);
          assert.equal(body.tool_choice, 'auto');
          assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'reply', schema } });
          assert.deepEqual(body.stop, ['END']);
        } else {
          // Anthropic: the system message apart, tools in its shape.
          assert.equal(body.system, system);
          assert.deepEqual(body.messages, expected.slice(1));
          assert.deepEqual(body.tools, [{ name: 'lookup', input_schema: tools[0]!.function.parameters }]);
          assert.deepEqual(body.stop_sequences, ['END']);
        }
        const e = await a.get(`/executions/${done.data.execution_id}`);
        assert.equal(e.status, 200);
        assert.deepEqual(e.body.messages, expected);
        assert.deepEqual(e.body.response_messages, [{ role: 'assistant', content: 'on its way' }]);
        assert.equal(e.body.rendered_prompt, null);
        assert.deepEqual([e.body.input_tokens, e.body.output_tokens], [40, 3]);
        assert.equal(e.body.cost_usd, (40 * 2 + 3 * 10) / 1e6);
        assert.deepEqual(e.body.partials_used.map((p: any) => [p.prompt, p.version]), [['tone', 1]]);
      }

      // Tool calls are logged in their own field, not in metadata.
      mock.reset();
      mock.script({ toolCalls: [{ name: 'lookup', arguments: { q: 'order' } }] });
      const called = await a.post('/prompts/helper/run', { version: 1, variables, provider: 'mock-openai' });
      assert.equal(called.status, 200, JSON.stringify(called.body));
      const logged = await a.get(`/executions/${called.body.execution_id}`);
      assert.equal(logged.body.tool_calls[0].function.name, 'lookup');
      assert.equal(logged.body.metadata.tool_calls, undefined);
      assert.equal(logged.body.response_messages[0].tool_calls[0].function.name, 'lookup');
    });

    it('runs a chat draft, checked like a new version', async () => {
      const draft = { type: 'chat', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi {{name}}' }], config: { temperature: 0.3 } };
      const run = await a.post('/prompts/greet/run', { draft, variables: { name: 'Di' }, provider: 'mock-openai' });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.draft, true);
      assert.deepEqual(mock.calls[0]!.body.messages, [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi Di' }]);
      assert.equal(mock.calls[0]!.body.temperature, 0.3);
      const e = await a.get(`/executions/${run.body.execution_id}`);
      assert.equal(e.body.metadata.draft, true);
      assert.equal(e.body.messages.length, 2);
      const bad = await a.post('/prompts/greet/run', { draft: { type: 'chat', content: 'no messages' }, provider: 'mock-openai' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /draft\.(content|messages)/);
      const badChoice = await a.post('/prompts/greet/run', { draft: { ...draft, config: { tool_choice: { type: 'function', function: { name: 'nope' } } } }, provider: 'mock-openai' });
      assert.equal(badChoice.status, 400);
      assert.match(badChoice.body.error.message, /tool_choice/);
      assert.equal(mock.calls.length, 1);
    });

    it('never answers or logs a provider key', async () => {
      mock.script({ status: 401 });
      await a.post('/prompts/greet/run', { variables: { name: 'Ada' }, provider: 'mock-openai' });
      await a.patch('/providers/mock-anthropic', { api_key: ANTHROPIC_KEY });
      const answers = [await a.get('/providers'), await a.get('/providers/mock-openai'), await a.get('/audit?limit=100'), await a.get('/executions?limit=100')];
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        const text = JSON.stringify(answer.body);
        assert.ok(!text.includes(OPENAI_KEY) && !text.includes(ANTHROPIC_KEY), `a key in ${text.slice(0, 200)}`);
      }
      const audit = (await a.get('/audit?limit=100')).body.items.filter((x: any) => String(x.action).startsWith('provider.'));
      assert.ok(audit.some((x: any) => x.details.api_key_changed === true));
      assert.ok(logLines.length > 10, 'the server logged requests');
      for (const line of logLines) assert.ok(!line.includes(OPENAI_KEY) && !line.includes(ANTHROPIC_KEY), `a key in a log line: ${line}`);
      // Stored encrypted: the database has no clear key either.
      const rows = await running.registry.services.db.all<{ api_key_encrypted: string }>('SELECT api_key_encrypted FROM providers');
      for (const r of rows) assert.ok(!String(r.api_key_encrypted).includes('sk-'));
    });
  });
}
