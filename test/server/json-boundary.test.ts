import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../server/http/json-limits.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type Answer, type TestServer } from '../support/server.js';

/** JSON text of `inner` wrapped in `levels` arrays: `[[[…]]]`, built as text (JSON.stringify would overflow the stack). */
const nestedArrays = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);

/** The deep-metadata body of issue 18: `{"a": [[[…]]]}`, `levels` deep in all (the object counts as one). */
const deepObject = (levels: number) => `{"a":${nestedArrays(levels - 1)}}`;

const TABLES = ['prompts', 'prompt_versions', 'prompt_deployments', 'prompt_executions', 'execution_scores', 'metrics', 'audit_log'];

for (const dialect of DIALECTS) {
  describe(`JSON bodies at the boundary: depth and UTF-8 (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
    });
    after(() => s.close());

    const counts = async () => {
      const out: Record<string, number> = {};
      for (const t of TABLES) out[t] = Number((await s.running.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n);
      return out;
    };
    const send = (path: string, body: string | Buffer, headers?: Record<string, string>) => s.admin.raw('POST', path, body, headers);
    const refused = (r: Answer, status: number, code: string, what: string) => {
      assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.equal(r.body.error.code, code, what);
      assert.equal(typeof r.body.error.message, 'string');
    };

    it('refuses version metadata nested 1,000, 10,000 and 100,000 deep with 400 json_too_deep naming the path, storing nothing', async () => {
      const before = await counts();
      for (const levels of [1_000, 10_000, 100_000]) {
        const r = await send('/prompts/deep/versions', `{"content":"x","metadata":${deepObject(levels)}}`);
        refused(r, 400, 'json_too_deep', `${levels} levels`);
        assert.equal(r.body.error.path, 'metadata.a[0][0][0][0]…[0][0][0]');
        assert.equal(r.body.error.max_depth, MAX_JSON_DEPTH);
        assert.match(r.body.error.message, /deeper than 64 levels, at metadata\.a\[0\]/);
      }
      assert.deepEqual(await counts(), before);
      assert.equal((await s.admin.get('/prompts/deep')).status, 404);
    });

    it('takes metadata exactly at the limit and gives it back unchanged', async () => {
      // The body is level 1, so metadata may nest 63 deep.
      const atLimit = await send('/prompts/edge/versions', `{"content":"x","metadata":${deepObject(MAX_JSON_DEPTH - 1)}}`);
      assert.equal(atLimit.status, 201, JSON.stringify(atLimit.body).slice(0, 300));
      const back = await s.admin.get('/prompts/edge/versions/1');
      assert.equal(JSON.stringify(back.body.metadata), deepObject(MAX_JSON_DEPTH - 1));
      const over = await send('/prompts/edge/versions', `{"content":"y","metadata":${deepObject(MAX_JSON_DEPTH)}}`);
      refused(over, 400, 'json_too_deep', 'one level over');
      assert.equal((await s.admin.get('/prompts/edge')).body.latest_version, 1);
    });

    it('refuses deep metadata and input_variables on POST /executions, single and batched, storing no row of the batch', async () => {
      const before = await counts();
      const good = '{"prompt":"p","version":1,"input_variables":{"n":"x"}}';
      for (const levels of [1_000, 10_000]) {
        const single = await send('/executions', `{"prompt":"p","version":1,"metadata":${deepObject(levels)}}`);
        refused(single, 400, 'json_too_deep', `single, metadata, ${levels}`);
        assert.equal(single.body.error.path, 'metadata.a[0][0][0][0]…[0][0][0]');
        const batch = await send('/executions', `[${good},{"prompt":"p","version":1,"input_variables":${deepObject(levels)}}]`);
        refused(batch, 400, 'json_too_deep', `batch, input_variables, ${levels}`);
        assert.match(batch.body.error.path, /^\[1\]\.input_variables\.a\[0\]/);
      }
      // Each bad row of a batch is named, as invalid_executions does, so a client can drop only those.
      const rows = await send('/executions', `[${good},{"prompt":"p","version":1,"metadata":${deepObject(100)}},${good},{"prompt":"p","version":1,"response":"\\ud800"}]`);
      refused(rows, 400, 'json_too_deep', 'two bad rows');
      assert.deepEqual(
        rows.body.error.rows.map((r: { index: number; issues: Array<{ path: string }> }) => [r.index, r.issues[0]!.path]),
        [
          [1, 'metadata.a[0][0][0][0]…[0][0][0]'],
          [3, 'response'],
        ],
      );
      assert.match(rows.body.error.message, /and 1 more of the 4 rows; nothing was stored/);
      // A top-level array of arrays: the batch itself too deep.
      refused(await send('/executions', nestedArrays(10_000)), 400, 'json_too_deep', 'nested batch');
      assert.deepEqual(await counts(), before);
    });

    it('refuses a too-deep body on every route that takes one (scores, metrics, render, deploy, keys...)', async () => {
      const before = await counts();
      const doc = (await s.admin.get('/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
      const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody).map(([method]) => [method, path] as const));
      assert.ok(routes.length >= 13, `${routes.length} routes take a body`);
      for (const [method, path] of routes) {
        const url = path.replace('{name}', path.startsWith('/environments') ? 'production' : 'p').replace('{id}', '00000000-0000-4000-8000-000000000000');
        const r = await s.admin.raw(method.toUpperCase(), url, `{"comment":${nestedArrays(10_000)}}`);
        refused(r, 400, 'json_too_deep', `${method} ${url}`);
        assert.equal(r.body.error.path, 'comment[0][0][0][0][0]…[0][0][0]');
      }
      assert.deepEqual(await counts(), before);
    });

    it('refuses a body that is not valid UTF-8 with 400 invalid_utf8 and the byte offset, never storing U+FFFD', async () => {
      const before = await counts();
      const cases: Array<[string, string, number[]]> = [
        ['/prompts/bytes/versions', '{"content":"caf', [0xe9, 0x22, 0x7d]], // latin-1 é
        ['/prompts/bytes/versions', '{"content":"a', [0xc0, 0x80, 0x22, 0x7d]], // overlong NUL
        ['/prompts/bytes/versions', '{"content":"a', [0xed, 0xa0, 0x80, 0x22, 0x7d]], // an encoded surrogate
        ['/prompts/bytes/versions', '{"content":"a', [0xf4, 0x90, 0x80, 0x80, 0x22, 0x7d]], // past U+10FFFF
        ['/prompts/bytes/versions', '{"content":"a', [0xe2, 0x82]], // cut short at the end
        ['/executions', '{"prompt":"p","version":1,"rendered_prompt":"x', [0xff, 0x22, 0x7d]], // the ingest fast path
        ['/executions', '[{"prompt":"p","version":1},{"prompt":"p","version":1,"metadata":{"k', [0xfe, 0x22, 0x3a, 0x31, 0x7d, 0x7d, 0x5d]],
      ];
      for (const [path, prefix, bytes] of cases) {
        const r = await send(path, Buffer.concat([Buffer.from(prefix), Buffer.from(bytes)]));
        refused(r, 400, 'invalid_utf8', `${path} ${prefix} ${bytes.map((b) => b.toString(16)).join(' ')}`);
        assert.equal(r.body.error.offset, Buffer.byteLength(prefix), prefix);
        assert.match(r.body.error.message, new RegExp(`byte ${Buffer.byteLength(prefix)}`));
      }
      assert.deepEqual(await counts(), before);

      // Valid UTF-8 is kept exactly, and the hash is of the text that was sent.
      const content = 'naïve café ☕ 𝄞 {{n}}';
      const r = await send('/prompts/utf/versions', Buffer.from(JSON.stringify({ content }), 'utf8'));
      assert.equal(r.status, 201);
      assert.equal(r.body.content, content);
      assert.equal(r.body.content_hash, createHash('sha256').update(content, 'utf8').digest('hex'));
      // A byte-order mark is allowed, and is not part of the content.
      const bom = await send('/prompts/utf/versions', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ content: 'second' }))]));
      assert.equal(bom.status, 201);
      assert.equal(bom.body.content, 'second');
    });

    it('refuses strings with an unpaired surrogate escape (valid JSON, no UTF-8 form) with 400 invalid_unicode', async () => {
      const before = await counts();
      const cases: Array<[string, string, string]> = [
        ['/prompts/sur/versions', '{"content":"a\\ud800b"}', 'content'],
        ['/prompts/sur/versions', '{"content":"a\\udc00"}', 'content'],
        ['/prompts/sur/versions', '{"content":"x","metadata":{"k":["\\udfff"]}}', 'metadata.k[0]'],
        ['/prompts/sur/versions', '{"content":"x","metadata":{"\\ud83d":1}}', 'metadata["\\ud83d"]'],
        ['/executions', '{"prompt":"p","version":1,"response":"\\ud800"}', 'response'],
        ['/executions', '[{"prompt":"p","version":1},{"prompt":"p","version":1,"input_variables":{"v":"\\ud800"}}]', '[1].input_variables.v'],
      ];
      for (const [path, body, where] of cases) {
        const r = await send(path, body);
        refused(r, 400, 'invalid_unicode', body);
        assert.equal(r.body.error.path, where, body);
      }
      // A pair is one character, and fine.
      assert.equal((await send('/prompts/sur/versions', '{"content":"\\ud83d\\ude00"}')).body.content, '😀');
      const after = await counts();
      assert.equal(after.prompt_versions, before.prompt_versions! + 1);
      assert.equal(after.prompt_executions, before.prompt_executions);
    });

    it('reads bodies as UTF-8 only: another charset is a 415', async () => {
      const body = JSON.stringify({ content: 'wide' });
      assert.equal((await send('/prompts/cs/versions', body, { 'Content-Type': 'application/json; charset=utf-8' })).status, 201);
      assert.equal((await send('/prompts/cs/versions', JSON.stringify({ content: 'upper' }), { 'Content-Type': 'application/json; charset=UTF-8' })).status, 201);
      const before = await counts();
      const utf16 = await send('/prompts/cs/versions', Buffer.from(JSON.stringify({ content: 'sixteen' }), 'utf16le'), { 'Content-Type': 'application/json; charset=utf-16le' });
      refused(utf16, 415, 'unsupported_encoding', 'utf-16le');
      refused(await send('/prompts/cs/versions', body, { 'Content-Type': 'application/json; charset=latin1' }), 415, 'unsupported_encoding', 'latin1');
      assert.deepEqual(await counts(), before);
    });
  });
}
