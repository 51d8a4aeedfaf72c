import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

for (const dialect of DIALECTS) {
  describe(`versions (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
    });
    after(() => s.close());

    it('creates the prompt with its first version and answers 201 with the documented fields', async () => {
      const content = 'Hello {{name}}, you work at {{company.name}}.';
      const r = await s.admin.post('/prompts/greeting/versions', { content, description: 'Greets', tags: ['onboarding'], message: 'first' });
      assert.equal(r.status, 201);
      assert.equal(r.body.version, 1);
      assert.match(r.body.version_id, /^[0-9a-f-]{36}$/);
      assert.equal(r.body.content_hash, sha256(content));
      assert.deepEqual(r.body.variables, ['name', 'company']);
      assert.equal(r.body.model, 'gpt-4o');
      assert.equal(r.body.temperature, 0);
      assert.equal(r.body.max_tokens, 1000);
      assert.deepEqual(r.body.metadata, {});
      assert.equal(r.body.message, 'first');
      assert.equal(r.body.created_by, r.body.created_by.trim());
      assert.equal(r.body.created, true);

      const p = await s.admin.get('/prompts/greeting');
      assert.equal(p.status, 200);
      assert.equal(p.body.description, 'Greets');
      assert.deepEqual(p.body.tags, ['onboarding']);
      assert.equal(p.body.latest_version, 1);
    });

    it('refuses an identical version with 409 naming it, and returns it in idempotent mode', async () => {
      const body = { content: 'Same {{x}}', model: 'gpt-4o-mini', temperature: 0.3, max_tokens: 50, metadata: { a: 1, b: [1, 2] } };
      assert.equal((await s.admin.post('/prompts/dup/versions', body)).status, 201);
      const again = await s.admin.post('/prompts/dup/versions', { ...body, metadata: { b: [1, 2], a: 1 } });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'duplicate_version');
      assert.match(again.body.error.message, /version 1/);
      assert.equal(again.body.error.existing_version, 1);

      const idem = await s.admin.post('/prompts/dup/versions?idempotent=true', body);
      assert.equal(idem.status, 200);
      assert.equal(idem.body.version, 1);
      assert.equal(idem.body.created, false);
      assert.equal(idem.body.content, body.content);

      const list = await s.admin.get('/prompts/dup/versions');
      assert.equal(list.body.items.length, 1);
    });

    it('makes a new version when only the temperature, model, max_tokens or metadata change', async () => {
      const base = { content: 'Settings {{x}}' };
      assert.equal((await s.admin.post('/prompts/settings/versions', base)).body.version, 1);
      assert.equal((await s.admin.post('/prompts/settings/versions', { ...base, temperature: 0.7 })).body.version, 2);
      assert.equal((await s.admin.post('/prompts/settings/versions', { ...base, temperature: 0.7, model: 'claude-x' })).body.version, 3);
      assert.equal((await s.admin.post('/prompts/settings/versions', { ...base, temperature: 0.7, model: 'claude-x', max_tokens: 7 })).body.version, 4);
      const last = await s.admin.post('/prompts/settings/versions', { ...base, temperature: 0.7, model: 'claude-x', max_tokens: 7, metadata: { top_p: 0.9 } });
      assert.equal(last.status, 201);
      assert.equal(last.body.version, 5);
      // and going back to version 1's settings is identical to version 1
      const back = await s.admin.post('/prompts/settings/versions', base);
      assert.equal(back.status, 409);
      assert.equal(back.body.error.existing_version, 1);
    });

    it('gives 24 concurrent creates the versions 1..24, with no errors', async () => {
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) => s.admin.post('/prompts/race/versions', { content: `Variant ${i} {{x}}` })),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(24).fill(201),
      );
      const numbers = answers.map((a) => a.body.version as number).sort((a, b) => a - b);
      assert.deepEqual(numbers, Array.from({ length: 24 }, (_, i) => i + 1));
    });

    it('gives 12 concurrent identical creates exactly one version and 409s for the rest', async () => {
      const answers = await Promise.all(Array.from({ length: 12 }, () => s.admin.post('/prompts/same-race/versions', { content: 'Identical {{x}}' })));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, ...Array(11).fill(409)]);
      for (const a of answers.filter((a) => a.status === 409)) assert.equal(a.body.error.existing_version, 1);
      const list = await s.admin.get('/prompts/same-race/versions');
      assert.equal(list.body.items.length, 1);
    });

    it('refuses a template with a syntax error with 422 and its line and column, creating nothing', async () => {
      const r = await s.admin.post('/prompts/broken/versions', { content: 'line one\nline {{#if ok}} two' });
      assert.equal(r.status, 422);
      assert.equal(r.body.error.code, 'template_syntax_error');
      assert.equal(r.body.error.line, 2);
      assert.equal(typeof r.body.error.column, 'number');
      assert.match(r.body.error.message, /line 2/);
      assert.equal((await s.admin.get('/prompts/broken')).status, 404);
    });

    it('refuses helpers and partials we do not support', async () => {
      const helper = await s.admin.post('/prompts/helpers/versions', { content: 'Hi {{shout name}}' });
      assert.equal(helper.status, 422);
      assert.equal(helper.body.error.code, 'template_unsupported');
      assert.match(helper.body.error.message, /unknown helper "shout"/);
      // Partials name other prompts (issue 12): one that names no prompt is a 400; partial blocks stay unsupported.
      const partial = await s.admin.post('/prompts/helpers/versions', { content: 'Hi {{> footer}}' });
      assert.equal(partial.status, 400);
      assert.equal(partial.body.error.code, 'invalid_reference');
      assert.match(partial.body.error.message, /no prompt named "footer"/);
      const block = await s.admin.post('/prompts/helpers/versions', { content: 'Hi {{#> footer}}x{{/footer}}' });
      assert.equal(block.status, 422);
      assert.match(block.body.error.message, /partial block/);
    });

    it('gets one version with its content and lists versions newest first with cursor pagination', async () => {
      for (let i = 1; i <= 5; i++) assert.equal((await s.admin.post('/prompts/paged/versions', { content: `v${i} {{a}}` })).status, 201);
      const one = await s.admin.get('/prompts/paged/versions/3');
      assert.equal(one.status, 200);
      assert.equal(one.body.content, 'v3 {{a}}');

      const first = await s.admin.get('/prompts/paged/versions?limit=2');
      assert.deepEqual(first.body.items.map((v: { version: number }) => v.version), [5, 4]);
      assert.equal(first.body.items[0].content, undefined);
      assert.ok(first.body.next_cursor);
      const second = await s.admin.get(`/prompts/paged/versions?limit=2&cursor=${first.body.next_cursor}`);
      assert.deepEqual(second.body.items.map((v: { version: number }) => v.version), [3, 2]);
      const third = await s.admin.get(`/prompts/paged/versions?limit=2&cursor=${second.body.next_cursor}`);
      assert.deepEqual(third.body.items.map((v: { version: number }) => v.version), [1]);
      assert.equal(third.body.next_cursor, null);
    });

    it('answers 404 with the error shape for unknown prompts and versions', async () => {
      const p = await s.admin.get('/prompts/nope/versions/1');
      assert.equal(p.status, 404);
      assert.equal(p.body.error.code, 'prompt_not_found');
      const v = await s.admin.get('/prompts/paged/versions/99');
      assert.equal(v.status, 404);
      assert.equal(v.body.error.code, 'version_not_found');
      assert.match(v.body.error.message, /no version 99/);
    });

    it('keeps description and tags published with a version, and PATCH changes them', async () => {
      await s.admin.post('/prompts/meta/versions', { content: 'a', description: 'one', tags: ['x'] });
      await s.admin.post('/prompts/meta/versions', { content: 'b', description: 'two', tags: ['y', 'z'] });
      let p = await s.admin.get('/prompts/meta');
      assert.equal(p.body.description, 'two');
      assert.deepEqual(p.body.tags, ['y', 'z']);
      const patched = await s.admin.patch('/prompts/meta', { tags: ['t'] });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body.tags, ['t']);
      assert.equal(patched.body.description, 'two');
      p = await s.admin.patch('/prompts/meta', { description: null });
      assert.equal(p.body.description, null);
      assert.equal((await s.admin.patch('/prompts/missing', { tags: [] })).status, 404);
      assert.equal((await s.admin.patch('/prompts/meta', {})).status, 400);
    });

    it('accepts the seed request shape (name in the body) and refuses a mismatched name', async () => {
      const ok = await s.admin.post('/prompts/seedish/versions', { name: 'seedish', content: 'x', model: 'gpt-4o', temperature: 0.0, description: null });
      assert.equal(ok.status, 201);
      const bad = await s.admin.post('/prompts/seedish/versions', { name: 'other', content: 'y' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'name_mismatch');
    });
  });
}
