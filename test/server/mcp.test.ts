import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { PromptListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Http } from '../../client/http.js';
import { RegistryApi, RegistryError, RegistryUnreachableError } from '../../client/index.js';
import type { ClientModule } from '../../server/mcp/remote.js';
import { argumentValues, promptArguments, promptMessages, ROLE_META_KEY } from '../../server/mcp/server.js';
import { DIALECTS } from '../support/db.js';
import { ROOT } from '../support/process.js';
import { startIdp } from '../support/idp.js';
import { ADMIN_KEY, startTestServer, twoReplicas, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

/** An SDK client over the server's /mcp endpoint, sending `key` as X-API-Key (none for null). */
function httpTransport(s: TestServer, key: string | null, query = ''): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(`${s.url}/mcp${query}`), { requestInit: { headers: key ? { 'X-API-Key': key } : {} } });
}

/** `prompt-registry mcp` as a child process, as an MCP host starts it; its stderr is kept for assertions. */
function stdioTransport(s: TestServer, env: Record<string, string>, args: string[] = []): { transport: StdioClientTransport; stderr: () => string } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'server/cli.ts', 'mcp', ...args],
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PROMPT_REGISTRY_URL: s.url, ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return { transport, stderr: () => stderr };
}

async function connected(transport: Transport): Promise<{ client: Client; changes: () => number }> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  let changes = 0;
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
    changes += 1;
  });
  await client.connect(transport);
  return { client, changes: () => changes };
}

// `prompt-registry mcp` loads the client at run time (server/ cannot import client/ types): its classes must fit the shapes it expects.
export const clientFits: ClientModule = { RegistryApi, Http, RegistryError, RegistryUnreachableError };

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

describe('MCP mapping (no registry)', () => {
  it('sends a chat version as MCP messages: system and tool as user messages keeping their role in _meta', () => {
    const messages = promptMessages({
      type: 'chat',
      rendered: null,
      prompt: 'support',
      version: 2,
      environment: 'production',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'tool', content: '{"ok":true}' },
      ],
    });
    assert.deepEqual(
      messages.map((m) => [m.role, (m.content as { text: string }).text, (m.content as { _meta?: Record<string, unknown> })._meta?.[ROLE_META_KEY]]),
      [
        ['user', 'You are terse.', 'system'],
        ['user', 'Hi', undefined],
        ['assistant', 'Hello.', undefined],
        ['user', '{"ok":true}', 'tool'],
      ],
    );
  });

  it('takes arguments from input_schema (descriptions, required unless defaulted) and reads typed ones from their strings', () => {
    const version = {
      prompt: 'p',
      version: 1,
      version_id: 'x',
      content: null,
      variables: ['age', 'name', 'tone', 'tags'],
      input_schema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'who to greet' },
          age: { type: 'integer' },
          tone: { type: 'string', default: 'warm' },
          tags: { type: 'array', description: 'labels' },
        },
        required: ['name', 'age', 'tone'],
      },
    };
    assert.deepEqual(promptArguments(version), [
      { name: 'name', description: 'who to greet', required: true },
      { name: 'age', description: 'integer', required: true },
      { name: 'tone', required: false },
      { name: 'tags', description: 'labels (array, as JSON)', required: false },
    ]);
    assert.deepEqual(argumentValues(version, { name: 'Ada', age: '36', tags: '["a"]' }), { name: 'Ada', age: 36, tags: ['a'] });
    // What does not read as the type goes as given, for the registry's validation to name.
    assert.deepEqual(argumentValues(version, { age: 'old' }), { age: 'old' });
    assert.deepEqual(promptArguments({ ...version, input_schema: null }), ['age', 'name', 'tone', 'tags'].map((name) => ({ name, required: true })));
  });
});

describe('prompt-registry mcp without a key', () => {
  it('exits at once, naming the missing credential on stderr', async () => {
    const none = stdioTransport({ url: 'http://127.0.0.1:9' } as TestServer, {});
    await assert.rejects(connected(none.transport));
    await eventually(() => none.stderr().includes('mcp needs an API key: --api-key or PROMPT_REGISTRY_API_KEY'), 'the missing key on stderr');
  });
});

for (const dialect of DIALECTS) {
  describe(`MCP server (${dialect})`, () => {
    let s: TestServer;
    let readKey: string;
    before(async () => {
      s = await startTestServer(dialect);
      readKey = (await s.admin.post('/keys', { name: 'agent', scopes: ['read'] })).body.key;
      await s.admin.post('/prompts/greet/versions', { content: 'Hello {{name}}, welcome to {{place}}.', description: 'A greeting', tags: ['onboarding'] });
      await s.admin.post('/prompts/greet/deployments', { version: 1, environment: 'production' });
      await s.admin.post('/prompts/farewell/versions', { content: 'Goodbye {{name}}.' });
      await s.admin.post('/prompts/farewell/deployments', { version: 1, environment: 'staging' });
    });
    after(() => s.close());

    /** Waits until one more long-lived stream (an MCP notification stream, or the stdio process's event stream) is open on the server. */
    const streamOpened = (before: number) => eventually(() => s.running.registry.services.feed.streamCount() > before, 'the notification stream is open');
    /** Waits until the streams a closed client had open are gone, so the next test counts from where this one began. */
    const streamsBackTo = (count: number) => eventually(() => s.running.registry.services.feed.streamCount() === count, 'the closed client\'s streams ended');

    describe('over Streamable HTTP (/mcp)', () => {
      it('lists the live prompts with their arguments and renders one', async () => {
        const { client } = await connected(httpTransport(s, readKey));
        try {
          const { prompts } = await client.listPrompts();
          assert.deepEqual(
            prompts.map((p) => ({ name: p.name, description: p.description, arguments: p.arguments })),
            [{ name: 'greet', description: 'A greeting', arguments: [{ name: 'name', required: true }, { name: 'place', required: true }] }],
          );
          const got = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada', place: 'Paris' } });
          assert.deepEqual(got.messages, [{ role: 'user', content: { type: 'text', text: 'Hello Ada, welcome to Paris.' } }]);

          // Another environment's live prompts, by query parameter.
          const staging = await connected(httpTransport(s, readKey, '?environment=staging'));
          assert.deepEqual((await staging.client.listPrompts()).prompts.map((p) => p.name), ['farewell']);
          await staging.client.close();
        } finally {
          await client.close();
        }
      });

      it('answers a clear error for a prompt that is not live and for a missing argument', async () => {
        const { client } = await connected(httpTransport(s, readKey));
        try {
          await assert.rejects(client.getPrompt({ name: 'farewell', arguments: { name: 'Ada' } }), /prompt "farewell" is not live in production: it exists, but no version of it is deployed there/);
          await assert.rejects(client.getPrompt({ name: 'nope' }), /prompt "nope" is not live in production: there is no prompt by that name/);
          await assert.rejects(client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } }), /prompt "greet" \(version 1, live in production\) needs the argument "place"/);
        } finally {
          await client.close();
        }
      });

      it('has tools to search prompts and read versions', async () => {
        const { client } = await connected(httpTransport(s, readKey));
        try {
          const { tools } = await client.listTools();
          assert.deepEqual(tools.map((t) => t.name).sort(), ['get_prompt_version', 'list_versions', 'search_prompts']);

          const found = await client.callTool({ name: 'search_prompts', arguments: { query: 'greet' } });
          assert.deepEqual((found.structuredContent as { prompts: Array<{ name: string; live: Record<string, number> }> }).prompts, [
            { name: 'greet', description: 'A greeting', tags: ['onboarding'], latest_version: 1, live: { production: 1 } },
          ]);
          const byTag = await client.callTool({ name: 'search_prompts', arguments: { tags: ['onboarding'], live_in: 'staging' } });
          assert.deepEqual((byTag.structuredContent as { prompts: unknown[] }).prompts, []);

          const live = await client.callTool({ name: 'get_prompt_version', arguments: { name: 'farewell', environment: 'staging' } });
          assert.equal((live.structuredContent as { content: string }).content, 'Goodbye {{name}}.');
          assert.equal(JSON.parse(text(live as CallToolResult)).version, 1);

          const versions = await client.callTool({ name: 'list_versions', arguments: { name: 'greet' } });
          assert.deepEqual((versions.structuredContent as { versions: Array<{ version: number; environments: string[] }> }).versions.map((v) => [v.version, v.environments]), [[1, ['production']]]);

          const missing = (await client.callTool({ name: 'get_prompt_version', arguments: { name: 'greet', version: 9 } })) as CallToolResult;
          assert.equal(missing.isError, true);
          assert.match(text(missing), /"greet" has no version 9/);
        } finally {
          await client.close();
        }
      });

      it('serves versions as resources, listing the live ones', async () => {
        const { client } = await connected(httpTransport(s, readKey));
        try {
          const { resources } = await client.listResources();
          assert.deepEqual(resources.map((r) => [r.uri, r.name, r.mimeType]), [['prompt-registry://prompts/greet/versions/1', 'greet@1', 'application/json']]);
          const read = await client.readResource({ uri: 'prompt-registry://prompts/farewell/versions/1' });
          assert.equal(JSON.parse((read.contents[0] as { text: string }).text).content, 'Goodbye {{name}}.');
          await assert.rejects(client.readResource({ uri: 'prompt-registry://prompts/greet/versions/7' }), /"greet" has no version 7/);
        } finally {
          await client.close();
        }
      });

      it('refuses a request without a credential: 401 in our error shape', async () => {
        await assert.rejects(connected(httpTransport(s, null)), /"code":"unauthorized","message":"this route needs an API key in the X-API-Key header"/);
        const res = await fetch(`${s.url}/mcp`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
        });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
        const unknown = await s.admin.post('/mcp?environment=qa', { jsonrpc: '2.0', id: 1, method: 'ping' }, { Accept: 'application/json, text/event-stream' });
        assert.equal(unknown.status, 400);
        assert.equal(unknown.body.error.code, 'unknown_environment');
        const notStream = await s.admin.get('/mcp', { Accept: 'application/json' });
        assert.equal(notStream.status, 400);
        assert.equal(notStream.body.error.code, 'not_acceptable');
        // A POST without the Accept header the SDK wants is answered all the same (with JSON).
        const plain = await s.as(readKey).post('/mcp', { jsonrpc: '2.0', id: 7, method: 'ping' });
        assert.deepEqual([plain.status, plain.body], [200, { jsonrpc: '2.0', id: 7, result: {} }]);
        const notRpc = await s.admin.post('/mcp', { hello: 1 }, { Accept: 'application/json, text/event-stream' });
        assert.equal(notRpc.status, 400);
        assert.match(notRpc.body.error.message, /jsonrpc/);
      });

      it('notifies prompts/list_changed when a deploy changes the live prompts', async () => {
        const open = s.running.registry.services.feed.streamCount();
        const { client, changes } = await connected(httpTransport(s, ADMIN_KEY));
        try {
          await streamOpened(open);
          await s.admin.post('/prompts/late/versions', { content: 'Late.' });
          await s.admin.post('/prompts/late/deployments', { version: 1, environment: 'staging' });
          assert.equal(changes(), 0, 'a deploy to another environment changes nothing here');
          assert.equal((await s.admin.post('/prompts/late/deployments', { version: 1, environment: 'production' })).status, 201);
          await eventually(() => changes() >= 1, 'notifications/prompts/list_changed');
          assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['greet', 'late']);
        } finally {
          await client.close();
        }
        await streamsBackTo(open);
      });
    });

    describe('over stdio (prompt-registry mcp)', () => {
      it('lists and gets the live prompts of --environment, and notifies list_changed after a deploy', async () => {
        const open = s.running.registry.services.feed.streamCount();
        const { transport, stderr } = stdioTransport(s, { PROMPT_REGISTRY_API_KEY: readKey }, ['--environment', 'staging']);
        const { client, changes } = await connected(transport);
        try {
          const { prompts } = await client.listPrompts();
          assert.deepEqual(
            prompts.map((p) => [p.name, p.arguments]),
            [['farewell', [{ name: 'name', required: true }]], ['late', []]],
          );
          const got = await client.getPrompt({ name: 'farewell', arguments: { name: 'Ada' } });
          assert.deepEqual(got.messages, [{ role: 'user', content: { type: 'text', text: 'Goodbye Ada.' } }]);
          await assert.rejects(client.getPrompt({ name: 'greet', arguments: { name: 'Ada', place: 'Paris' } }), /prompt "greet" is not live in staging/);
          await assert.rejects(client.getPrompt({ name: 'farewell' }), /needs the argument "name"/);
          const versions = (await client.callTool({ name: 'list_versions', arguments: { name: 'farewell' } })) as CallToolResult;
          assert.deepEqual(JSON.parse(text(versions)).versions.map((v: { version: number }) => v.version), [1]);

          // The process's subscription to the registry's event stream is open: a deploy to staging reaches it.
          await streamOpened(open);
          assert.equal((await s.admin.post('/prompts/greet/deployments', { version: 1, environment: 'staging' })).status, 201);
          await eventually(() => changes() >= 1, 'notifications/prompts/list_changed over stdio');
          assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['farewell', 'greet', 'late']);
          assert.match(stderr(), /serving live prompts over MCP/, 'logs go to stderr');
        } finally {
          await client.close();
        }
        await streamsBackTo(open);
      });

      // The process's side of a refusal is the same whatever database the registry has: checked once.
      if (dialect === 'sqlite') {
        it('is refused with a key the registry does not know, saying why on stderr', async () => {
          const wrong = stdioTransport(s, { PROMPT_REGISTRY_API_KEY: 'not-a-key' });
          await assert.rejects(connected(wrong.transport));
          await eventually(() => /cannot serve .* over MCP: .*API key/.test(wrong.stderr()), 'the refusal on stderr');
        });
      }
    });
  });
}

describe('MCP over HTTP with several replicas (postgres)', () => {
  const replicas = twoReplicas();

  it('a client on one replica hears of a deploy made on another, and any replica answers its requests', async () => {
    const { a, b } = replicas;
    await a.admin.post('/prompts/shared/versions', { content: 'Shared {{x}}.' });
    const open = b.running.registry.services.feed.streamCount();
    const { client, changes } = await connected(httpTransport(b, ADMIN_KEY));
    try {
      await eventually(() => b.running.registry.services.feed.streamCount() > open, 'the notification stream is open on B');
      assert.equal((await a.admin.post('/prompts/shared/deployments', { version: 1, environment: 'production' })).status, 201);
      await eventually(() => changes() >= 1, 'list_changed on B after a deploy on A');
      assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['shared']);
      // Stateless: a client connected through B goes on through A, with no session to lose.
      const other = await connected(httpTransport(a, ADMIN_KEY));
      const got = await other.client.getPrompt({ name: 'shared', arguments: { x: 'text' } });
      assert.deepEqual(got.messages, [{ role: 'user', content: { type: 'text', text: 'Shared text.' } }]);
      await other.client.close();
    } finally {
      await client.close();
    }
  });
});

describe('MCP over HTTP with an OpenID Connect bearer token', () => {
  it('accepts the token as the other routes do', async () => {
    const idp = await startIdp();
    const s = await startTestServer('sqlite', { oidc: idp.config() });
    try {
      await s.admin.post('/prompts/hello/versions', { content: 'Hello.' });
      await s.admin.post('/prompts/hello/deployments', { version: 1, environment: 'production' });
      const token = await idp.token('bob');
      const transport = new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
      const { client } = await connected(transport);
      assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['hello']);
      await client.close();
      const refused = await fetch(`${s.url}/mcp`, { method: 'POST', headers: { Authorization: 'Bearer not.a.token', 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      assert.equal(refused.status, 401);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthorized');
    } finally {
      await s.close();
      await idp.close();
    }
  });
});

describe('MCP with chat prompts and input schemas', () => {
  it('renders a chat prompt as MCP messages, with arguments from its input_schema', async () => {
    const s = await startTestServer('sqlite');
    try {
      await s.admin.post('/prompts/safety/versions', { content: 'Never share passwords.' });
      const created = await s.admin.post('/prompts/support/versions', {
        type: 'chat',
        description: 'Support replies',
        messages: [
          { role: 'system', content: 'You help customers of {{company}}. {{> safety}}' },
          { type: 'placeholder', name: 'history' },
          { role: 'user', content: 'I am {{age}} and need help with {{topic}}.' },
          { role: 'assistant', content: 'Sure.' },
        ],
        input_schema: {
          type: 'object',
          properties: { company: { type: 'string', description: 'the company name' }, age: { type: 'integer' }, topic: { type: 'string', default: 'billing' } },
          required: ['company', 'age'],
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await s.admin.post('/prompts/safety/deployments', { version: 1, environment: 'production' });
      await s.admin.post('/prompts/support/deployments', { version: 1, environment: 'production' });
      const { client } = await connected(httpTransport(s, ADMIN_KEY));
      try {
        const support = (await client.listPrompts()).prompts.find((p) => p.name === 'support');
        assert.deepEqual(support?.arguments, [
          { name: 'company', description: 'the company name', required: true },
          { name: 'age', description: 'integer', required: true },
          { name: 'topic', required: false },
        ]);
        const got = await client.getPrompt({ name: 'support', arguments: { company: 'Acme', age: '36' } });
        assert.deepEqual(got.messages, [
          { role: 'user', content: { type: 'text', text: 'You help customers of Acme. Never share passwords.', _meta: { [ROLE_META_KEY]: 'system' } } },
          { role: 'user', content: { type: 'text', text: 'I am 36 and need help with billing.' } },
          { role: 'assistant', content: { type: 'text', text: 'Sure.' } },
        ]);
        await assert.rejects(client.getPrompt({ name: 'support', arguments: { company: 'Acme', age: 'old' } }), /age/);
        await assert.rejects(client.getPrompt({ name: 'support', arguments: { age: '3' } }), /needs the argument "company"/);
        const version = await client.callTool({ name: 'get_prompt_version', arguments: { name: 'support' } });
        assert.equal((version.structuredContent as { type: string }).type, 'chat');
      } finally {
        await client.close();
      }
    } finally {
      await s.close();
    }
  });
});
