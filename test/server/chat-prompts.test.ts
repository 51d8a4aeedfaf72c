import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Issue 12 through the HTTP API: chat prompts, config, input schemas and partials, on both databases.
for (const dialect of DIALECTS) {
  describe(`chat prompts and partials (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
    });
    after(() => s.close());

    /** How many versions a prompt has (0: no such prompt): nothing half-written after a refusal. */
    const versionCount = async (name: string) => {
      const r = await s.admin.get(`/prompts/${name}`);
      return r.status === 404 ? 0 : (r.body.latest_version as number);
    };

    const support = {
      type: 'chat',
      messages: [
        { role: 'system', content: 'You help customers of {{company}}.\n{{> "safety@1"}}' },
        { type: 'placeholder', name: 'history' },
        { role: 'user', content: '{{question}}' },
      ],
      config: {
        model: 'gpt-4o-mini',
        temperature: 0.2,
        top_p: 0.9,
        stop: ['END'],
        tools: [{ type: 'function', function: { name: 'lookup_order', parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } } }],
        tool_choice: { type: 'function', function: { name: 'lookup_order' } },
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { text: { type: 'string' } } } } },
        vendor_option: { keep: true },
      },
    };

    it('creates a chat prompt with a system and a user message, a placeholder and a pinned partial', async () => {
      const safety = await s.admin.post('/prompts/safety/versions', { content: 'Never share {{secret_kind}}.' });
      assert.equal(safety.status, 201);
      assert.equal(safety.body.type, 'text');
      assert.deepEqual(safety.body.includes, []);

      const r = await s.admin.post('/prompts/support-chat/versions', support);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.type, 'chat');
      assert.equal(r.body.content, null);
      assert.deepEqual(r.body.messages, support.messages);
      assert.deepEqual(r.body.variables, ['company', 'question']);
      assert.deepEqual(r.body.includes, [{ ref: 'safety@1', prompt: 'safety', version: 1, environment: null }]);
      // config mirrors the top-level settings and keeps provider-specific keys.
      assert.equal(r.body.model, 'gpt-4o-mini');
      assert.equal(r.body.temperature, 0.2);
      assert.equal(r.body.max_tokens, 1000);
      assert.deepEqual(r.body.config.vendor_option, { keep: true });
      assert.equal(r.body.config.model, 'gpt-4o-mini');
      assert.equal(r.body.config.max_tokens, 1000);
      assert.equal(r.body.input_schema, null);

      const again = await s.admin.get('/prompts/support-chat/versions/1');
      assert.deepEqual(again.body.messages, support.messages);
      assert.deepEqual(again.body.config, r.body.config);
      // The hash covers the whole version: the same again is a duplicate, idempotently the same version.
      const dup = await s.admin.post('/prompts/support-chat/versions', support);
      assert.equal(dup.status, 409);
      const idem = await s.admin.post('/prompts/support-chat/versions?idempotent=true', support);
      assert.equal(idem.status, 200);
      assert.equal(idem.body.version, 1);
      // A change in config alone is a new version.
      const changed = await s.admin.post('/prompts/support-chat/versions', { ...support, config: { ...support.config, top_p: 0.5 } });
      assert.equal(changed.status, 201);
      assert.notEqual(changed.body.content_hash, r.body.content_hash);
    });

    it('renders the messages in order with variables, a two-message history and the partial expanded', async () => {
      const r = await s.admin.post('/prompts/support-chat/render', {
        version: 1,
        variables: { company: 'Acme', question: 'Where is my order?', secret_kind: 'passwords' },
        placeholders: {
          history: [
            { role: 'user', content: 'Hi {{not a template}}' },
            { role: 'assistant', content: 'Hello! How can I help?' },
          ],
        },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.type, 'chat');
      assert.equal(r.body.rendered, null);
      assert.deepEqual(r.body.messages, [
        { role: 'system', content: 'You help customers of Acme.\nNever share passwords.' },
        { role: 'user', content: 'Hi {{not a template}}' },
        { role: 'assistant', content: 'Hello! How can I help?' },
        { role: 'user', content: 'Where is my order?' },
      ]);
      const safety = await s.admin.get('/prompts/safety/versions/1');
      assert.deepEqual(r.body.partials_used, [{ prompt: 'safety', version: 1, version_id: safety.body.version_id }]);
      assert.equal(r.body.config.top_p, 0.9);

      // A placeholder not given renders as nothing.
      const bare = await s.admin.post('/prompts/support-chat/render', { version: 1, variables: { company: 'A', question: 'Q', secret_kind: 'keys' } });
      assert.equal(bare.body.messages.length, 2);
      // A bad placeholder message names its field.
      const badHistory = await s.admin.post('/prompts/support-chat/render', {
        version: 1,
        variables: { company: 'A', question: 'Q', secret_kind: 'keys' },
        placeholders: { history: [{ role: 'user', content: 'ok' }, { role: 'wizard', content: 'x' }] },
      });
      assert.equal(badHistory.status, 400);
      assert.match(badHistory.body.error.message, /placeholders\.history\[1\]\.role/);
    });

    it('a missing variable is refused, naming it: 400 against the input schema, 422 by the strict rule without one', async () => {
      const typed = await s.admin.post('/prompts/typed-chat/versions', {
        type: 'chat',
        messages: [{ role: 'user', content: 'Reply in a {{tone}} tone to {{customer}} ({{age}}).' }],
        input_schema: {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          type: 'object',
          properties: { customer: { type: 'string' }, age: { type: 'integer' }, tone: { type: 'string', enum: ['warm', 'formal'], default: 'warm' } },
          required: ['customer', 'age'],
        },
      });
      assert.equal(typed.status, 201, JSON.stringify(typed.body));
      const missing = await s.admin.post('/prompts/typed-chat/render', { version: 1, variables: { age: 3 } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error.code, 'invalid_variables');
      assert.match(missing.body.error.message, /variables\.customer/);
      const wrongType = await s.admin.post('/prompts/typed-chat/render', { version: 1, variables: { customer: 'Ann', age: 'three' } });
      assert.equal(wrongType.status, 400);
      assert.match(wrongType.body.error.message, /variables\.age: must be integer/);
      // The default fills tone.
      const ok = await s.admin.post('/prompts/typed-chat/render', { version: 1, variables: { customer: 'Ann', age: 30 } });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body.messages, [{ role: 'user', content: 'Reply in a warm tone to Ann (30).' }]);

      const strict = await s.admin.post('/prompts/support-chat/render', { version: 1, variables: { company: 'Acme', secret_kind: 'keys' } });
      assert.equal(strict.status, 422);
      assert.equal(strict.body.error.code, 'missing_variable');
      assert.equal(strict.body.error.variable, 'question');
    });

    it('refuses a bad role, a bad response_format schema, a missing partial and a two-prompt cycle with a 400 naming each, storing nothing', async () => {
      const badRole = await s.admin.post('/prompts/refused/versions', { type: 'chat', messages: [{ role: 'wizard', content: 'hi' }] });
      assert.equal(badRole.status, 400);
      assert.match(badRole.body.error.message, /messages\[0\]\.role/);

      const badSchema = await s.admin.post('/prompts/refused/versions', {
        type: 'chat',
        messages: [{ role: 'user', content: 'hi' }],
        config: { response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object', properties: { age: { type: 'integr' } } } } } },
      });
      assert.equal(badSchema.status, 400);
      assert.equal(badSchema.body.error.code, 'invalid_schema');
      assert.match(badSchema.body.error.message, /config\.response_format\.json_schema\.schema\.properties\.age\.type/);

      const missingPartial = await s.admin.post('/prompts/refused/versions', { type: 'chat', messages: [{ role: 'system', content: '{{> disclaimer}}' }] });
      assert.equal(missingPartial.status, 400);
      assert.equal(missingPartial.body.error.code, 'invalid_reference');
      assert.match(missingPartial.body.error.message, /no prompt named "disclaimer"/);
      const missingVersion = await s.admin.post('/prompts/refused/versions', { content: 'x {{> "safety@9"}}' });
      assert.equal(missingVersion.status, 400);
      assert.match(missingVersion.body.error.message, /"safety" has no version 9/);
      assert.equal(await versionCount('refused'), 0);

      // Other refusals that name the field.
      const contentInChat = await s.admin.post('/prompts/refused/versions', { type: 'chat', content: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(contentInChat.status, 400);
      assert.match(contentInChat.body.error.message, /content/);
      const noMessages = await s.admin.post('/prompts/refused/versions', { type: 'chat' });
      assert.equal(noMessages.status, 400);
      assert.match(noMessages.body.error.message, /messages/);
      const twice = await s.admin.post('/prompts/refused/versions', {
        type: 'chat',
        messages: [{ type: 'placeholder', name: 'h' }, { role: 'user', content: 'x' }, { type: 'placeholder', name: 'h' }],
      });
      assert.equal(twice.status, 400);
      assert.match(twice.body.error.message, /messages\[2\]\.name/);
      const badTool = await s.admin.post('/prompts/refused/versions', {
        content: 'x',
        config: { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', required: 'id' } } }] },
      });
      assert.equal(badTool.status, 400);
      assert.match(badTool.body.error.message, /config\.tools\[0\]\.function\.parameters\.required/);
      const oldDraft = await s.admin.post('/prompts/refused/versions', { content: 'x', input_schema: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' } });
      assert.equal(oldDraft.status, 400);
      assert.equal(oldDraft.body.error.code, 'invalid_schema');
      assert.match(oldDraft.body.error.message, /input_schema\.\$schema: unsupported/);
      const conflicting = await s.admin.post('/prompts/refused/versions', { content: 'x', model: 'a', config: { model: 'b' } });
      assert.equal(conflicting.status, 400);
      assert.match(conflicting.body.error.message, /config\.model/);
      const badTemplate = await s.admin.post('/prompts/refused/versions', { type: 'chat', messages: [{ role: 'user', content: 'ok' }, { role: 'user', content: '{{#if x}}' }] });
      assert.equal(badTemplate.status, 422);
      assert.match(badTemplate.body.error.message, /^messages\[1\]\.content: /);
      assert.equal(await versionCount('refused'), 0);

      // a -> b -> a: b includes a; a new version of a that includes b would close the loop.
      assert.equal((await s.admin.post('/prompts/cycle-a/versions', { content: 'A' })).status, 201);
      assert.equal((await s.admin.post('/prompts/cycle-b/versions', { content: 'B {{> cycle-a}}' })).status, 201);
      const cycle = await s.admin.post('/prompts/cycle-a/versions', { content: 'A {{> cycle-b}}' });
      assert.equal(cycle.status, 400);
      assert.equal(cycle.body.error.code, 'reference_cycle');
      assert.match(cycle.body.error.message, /cycle-a -> cycle-b -> cycle-a/);
      assert.equal(await versionCount('cycle-a'), 1);

      // A partial must be a text prompt.
      const chatPartial = await s.admin.post('/prompts/refused/versions', { content: '{{> "support-chat@1"}}' });
      assert.equal(chatPartial.status, 400);
      assert.match(chatPartial.body.error.message, /a partial must be a text prompt/);
      assert.equal(await versionCount('refused'), 0);
    });

    it('publishes and renders Dotprompt\'s helpers (json, ifEquals/unlessEquals, section), their variables stored, json within the output budget', async () => {
      const created = await s.admin.post('/prompts/genkit-helpers/versions', {
        type: 'chat',
        messages: [
          { role: 'system', content: '{{#ifEquals user.tier "gold"}}Be extra polite.{{else}}Be brief.{{/ifEquals}}{{#unlessEquals user.tier "gold"}} No upsell.{{/unlessEquals}}{{section "output"}}' },
          { role: 'user', content: 'Context: {{json context indent=2}}' },
        ],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.variables, ['user', 'context']);
      const render = (variables: Record<string, unknown>) => s.admin.post('/prompts/genkit-helpers/render', { version: 1, variables });
      const gold = await render({ user: { tier: 'gold' }, context: { order: 42, items: ['boots'] } });
      assert.equal(gold.status, 200, JSON.stringify(gold.body));
      assert.deepEqual(gold.body.messages, [
        { role: 'system', content: 'Be extra polite.' },
        { role: 'user', content: 'Context: {\n  "order": 42,\n  "items": [\n    "boots"\n  ]\n}' },
      ]);
      const silver = await render({ user: { tier: 'silver' }, context: null });
      assert.deepEqual(silver.body.messages.map((m: { content: string }) => m.content), ['Be brief. No upsell.', 'Context: null']);
      const missing = await render({ user: {} });
      assert.equal(missing.status, 422);
      assert.equal(missing.body.error.code, 'missing_variable');
      assert.equal(missing.body.error.variable, 'context');
      // 100 copies of 2,000 numbers laid out 10 deep is over the default 1,000,000 characters.
      const big = await s.admin.post('/prompts/genkit-big/versions', { content: '{{#each rows}}{{json ../big indent=10}}{{/each}}' });
      assert.equal(big.status, 201, JSON.stringify(big.body));
      const over = await s.admin.post('/prompts/genkit-big/render', { version: 1, variables: { rows: new Array(100).fill(0), big: new Array(2000).fill(12345) } });
      assert.equal(over.status, 422, JSON.stringify(over.body));
      assert.deepEqual([over.body.error.code, over.body.error.limit], ['render_too_large', 'output']);
      const bad = await s.admin.post('/prompts/genkit-bad/versions', { content: '{{json x indent=12}}' });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error.code, 'template_unsupported');
      assert.equal(await versionCount('genkit-bad'), 0);
    });

    it('keeps a text prompt created the seed way exactly as before (hash of the content, same answers)', async () => {
      const content = 'Hello {{name}}';
      const r = await s.admin.post('/prompts/seedling/versions', { name: 'seedling', content, model: 'gpt-4', temperature: 0.7, max_tokens: 500 });
      assert.equal(r.status, 201);
      const { createHash } = await import('node:crypto');
      assert.equal(r.body.content_hash, createHash('sha256').update(content).digest('hex'));
      assert.equal(r.body.content, content);
      assert.equal(r.body.messages, null);
      assert.deepEqual(r.body.config, { model: 'gpt-4', temperature: 0.7, max_tokens: 500 });
      await s.admin.post('/prompts/seedling/deployments', { version: 1, environment: 'production' });
      const latest = await s.admin.get('/prompts/seedling/latest?environment=production');
      assert.equal(latest.body.content, content);
      assert.equal(latest.body.model, 'gpt-4');
      assert.equal(latest.body.type, 'text');
      assert.deepEqual(latest.body.partials, {});
      const rendered = await s.admin.post('/prompts/seedling/render', { variables: { name: 'Ann' } });
      assert.equal(rendered.body.rendered, 'Hello Ann');
      assert.equal(rendered.body.messages, null);
      assert.deepEqual(rendered.body.partials_used, []);
    });

    it('resolves a followed partial to what is live, and answers anew once the partial is deployed (cache invalidated)', async () => {
      assert.equal((await s.admin.post('/prompts/tone/versions', { content: 'Be brief.' })).status, 201);
      assert.equal((await s.admin.post('/prompts/tone/versions', { content: 'Be warm and brief.' })).status, 201);
      await s.admin.post('/prompts/tone/deployments', { version: 1, environment: 'production' });
      // A reference pinned to an environment needs something live there.
      const early = await s.admin.post('/prompts/greeter/versions', { content: '{{> "safety@production"}}' });
      assert.equal(early.status, 400);
      assert.match(early.body.error.message, /nothing of "safety" is live in production/);
      await s.admin.post('/prompts/safety/deployments', { version: 1, environment: 'production' });
      const created = await s.admin.post('/prompts/greeter/versions', {
        type: 'chat',
        messages: [{ role: 'system', content: '{{> tone}} {{> "safety@production"}}' }, { role: 'user', content: 'Hi {{name}}' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await s.admin.post('/prompts/greeter/deployments', { version: 1, environment: 'production' });

      const first = await s.admin.get('/prompts/greeter/latest?environment=production');
      assert.equal(first.status, 200);
      assert.equal(first.body.type, 'chat');
      assert.equal(first.body.content, null);
      assert.equal(first.body.partials.tone.content, 'Be brief.');
      assert.equal(first.body.partials.tone.version, 1);
      assert.equal(first.body.partials['safety@production'].content, 'Never share {{secret_kind}}.');
      const cached = await s.admin.get('/prompts/greeter/latest?environment=production', { 'If-None-Match': first.headers.get('etag')! });
      assert.equal(cached.status, 304);
      const renderedBefore = await s.admin.post('/prompts/greeter/render', { variables: { name: 'Bo', secret_kind: 'keys' } });
      assert.equal(renderedBefore.body.messages[0].content, 'Be brief. Never share keys.');

      await s.admin.post('/prompts/tone/deployments', { version: 2, environment: 'production' });
      const after = await s.admin.get('/prompts/greeter/latest?environment=production', { 'If-None-Match': first.headers.get('etag')! });
      assert.equal(after.status, 200);
      assert.equal(after.body.partials.tone.content, 'Be warm and brief.');
      const renderedAfter = await s.admin.post('/prompts/greeter/render', { variables: { name: 'Bo', secret_kind: 'keys' } });
      assert.equal(renderedAfter.body.messages[0].content, 'Be warm and brief. Never share keys.');
      assert.deepEqual(
        renderedAfter.body.partials_used.map((p: { prompt: string; version: number }) => `${p.prompt}@${p.version}`),
        ['tone@2', 'safety@1'],
      );
      // By version, a followed partial is its latest version.
      const byVersion = await s.admin.post('/prompts/greeter/render', { version: 1, variables: { name: 'Bo', secret_kind: 'keys' } });
      assert.equal(byVersion.body.messages[0].content, 'Be warm and brief. Never share keys.');
    });

    it('expands nested partials, and flattens them in the resolve answer', async () => {
      assert.equal((await s.admin.post('/prompts/preamble/versions', { content: 'Preamble for {{company}}. {{> "safety@1"}}' })).status, 201);
      const created = await s.admin.post('/prompts/nested/versions', { type: 'chat', messages: [{ role: 'system', content: '{{> "preamble@1"}} Go.' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await s.admin.post('/prompts/nested/deployments', { version: 1, environment: 'staging' });
      const r = await s.admin.post('/prompts/nested/render', { environment: 'staging', variables: { company: 'Acme', secret_kind: 'keys' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.messages, [{ role: 'system', content: 'Preamble for Acme. Never share keys. Go.' }]);
      assert.deepEqual(r.body.partials_used.map((p: { prompt: string }) => p.prompt), ['preamble', 'safety']);
      const latest = await s.admin.get('/prompts/nested/latest?environment=staging');
      assert.deepEqual(Object.keys(latest.body.partials).sort(), ['preamble@1', 'safety@1']);
      // A partial's own missing variable is named like any other.
      const missing = await s.admin.post('/prompts/nested/render', { environment: 'staging', variables: { company: 'Acme' } });
      assert.equal(missing.status, 422);
      assert.equal(missing.body.error.variable, 'secret_kind');
    });

    it('answers which versions use a partial, and which of them are live in an environment', async () => {
      const all = await s.admin.get('/prompts/safety/used-by');
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.body.data.map((u: { prompt: string; version: number; ref: string; live_in: string[] }) => [u.prompt, u.version, u.ref, u.live_in]),
        [
          ['greeter', 1, 'safety@production', ['production']],
          ['preamble', 1, 'safety@1', []],
          ['support-chat', 1, 'safety@1', []],
          ['support-chat', 2, 'safety@1', []],
        ],
      );
      const live = await s.admin.get('/prompts/safety/used-by?environment=production');
      assert.deepEqual(live.body.data.map((u: { prompt: string }) => u.prompt), ['greeter']);
      assert.equal((await s.admin.get('/prompts/nothing-here/used-by')).status, 404);
      assert.equal((await s.admin.get('/prompts/safety/used-by?environment=qa')).status, 400);
    });

    it('logs chat executions with messages, response messages, tool calls and partials used, one at a time and in a batch', async () => {
      const rendered = await s.admin.post('/prompts/support-chat/render', {
        version: 1,
        variables: { company: 'Acme', question: 'Where is order 7?', secret_kind: 'keys' },
      });
      const chat = {
        prompt: 'support-chat',
        version: 1,
        messages: rendered.body.messages,
        response_messages: [
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"id":"7"}' } }] },
        ],
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"id":"7"}' } }],
        partials_used: rendered.body.partials_used,
      };
      const one = await s.admin.post('/executions', chat);
      assert.equal(one.status, 201, JSON.stringify(one.body));
      const got = await s.admin.get(`/executions/${one.body.ids[0]}`);
      assert.deepEqual(got.body.messages, chat.messages);
      assert.deepEqual(got.body.response_messages, chat.response_messages);
      assert.deepEqual(got.body.tool_calls, chat.tool_calls);
      assert.deepEqual(got.body.partials_used, chat.partials_used);
      // 60 rows: Postgres stores batches this large with COPY.
      const batch = await s.admin.post('/executions', Array.from({ length: 60 }, () => chat));
      assert.equal(batch.status, 201, JSON.stringify(batch.body));
      assert.deepEqual((await s.admin.get(`/executions/${batch.body.ids[59]}`)).body.response_messages, chat.response_messages);

      // The payloads need executions:read; which partials went in is not a payload.
      const reader = s.as((await s.admin.post('/keys', { name: 'chat-reader', scopes: ['read'] })).body.key);
      const withheld = await reader.get(`/executions/${one.body.ids[0]}`);
      assert.equal(withheld.body.payload_withheld, true);
      assert.equal(withheld.body.messages, null);
      assert.equal(withheld.body.tool_calls, null);
      assert.deepEqual(withheld.body.partials_used, chat.partials_used);

      const bad = await s.admin.post('/executions', { ...chat, response_messages: [{ content: 'no role' }] });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body.error.rows[0].issues), /response_messages\[0\]\.role/);
      const big = await s.admin.post('/executions', { ...chat, messages: [{ role: 'user', content: 'x'.repeat(1_000_001) }] });
      assert.equal(big.status, 400);
      assert.match(JSON.stringify(big.body.error.rows[0].issues), /messages.*the limit is 1000000/);
    });
  });
}
