import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csvRecords, parseCsv, parseJsonl, toCsv } from '../../server/datasets/formats.js';
import { AppError } from '../../server/errors.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type Api, type TestServer } from '../support/server.js';

const lineOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.details.line;
  }
  assert.fail('expected a refusal');
};

describe('dataset file formats', () => {
  it('reads RFC 4180 CSV: quotes, doubled quotes, commas and line breaks inside quotes, CRLF', () => {
    const records = csvRecords('a,b\r\n"x, y","say ""hi"""\r\n"multi\nline",z\n\n');
    assert.deepEqual(records, [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 3, fields: ['multi\nline', 'z'] },
    ]);
  });

  it('names the line of a bad row: wrong field count, an unclosed quote, bad JSON, a missing input', () => {
    assert.equal(lineOf(() => parseCsv('question,expected\nq1,a1\nq2,a2,extra\n')), 3);
    assert.equal(lineOf(() => parseCsv('question,expected\nq1,a1\n"q2,a2\n')), 3);
    assert.equal(lineOf(() => parseJsonl('{"input":{}}\n\n{"input": \n')), 3);
    assert.equal(lineOf(() => parseJsonl('{"input":{}}\n{"expected":"x"}\n')), 2);
  });

  it('writes CSV that reads back to the same items', () => {
    const items = [
      { input: { question: 'a, "quoted"\nline', lang: 'en' }, expected: 'yes', metadata: { tag: 't1' } },
      { input: { question: 'b', lang: 'fr' }, expected: 'no', metadata: { tag: 't2' } },
    ];
    assert.deepEqual(parseCsv(toCsv(items)), items);
  });
});

for (const dialect of DIALECTS) {
  describe(`datasets (${dialect})`, () => {
    let s: TestServer;
    let a: Api;
    before(async () => {
      s = await startTestServer(dialect);
      a = s.admin;
      assert.equal((await a.post('/prompts/qa/versions', { content: 'Answer {{question}}' })).status, 201);
    });
    after(() => s?.close());

    it('creates a dataset, adds items as versions, and pages through a version', async () => {
      assert.equal((await a.post('/datasets', { name: 'basics', description: 'first' })).status, 201);
      assert.equal((await a.post('/datasets', { name: 'basics' })).status, 409);
      const first = await a.post('/datasets/basics/items', { items: [{ input: { question: 'one' }, expected: '1' }, { input: { question: 'two' }, expected: { n: 2 } }] });
      assert.equal(first.status, 201);
      assert.deepEqual(first.body, { dataset: 'basics', version: 1, added: 2, item_count: 2 });
      const second = await a.post('/datasets/basics/items', { items: [{ input: { question: 'three' }, metadata: { hard: true } }] });
      assert.equal(second.body.version, 2);
      const bad = await a.post('/datasets/basics/items', { items: [{ input: { question: 'ok' } }, { input: 'nope' }] });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /items\[1\]\.input/);

      const p1 = await a.get('/datasets/basics/items?limit=2');
      assert.deepEqual(p1.body.items.map((i: any) => i.input.question), ['one', 'two']);
      assert.deepEqual(p1.body.items[1].expected, { n: 2 });
      const p2 = await a.get(`/datasets/basics/items?limit=2&cursor=${p1.body.next_cursor}`);
      assert.deepEqual(p2.body.items.map((i: any) => [i.input.question, i.added_in, i.metadata]), [['three', 2, { hard: true }]]);
      assert.equal(p2.body.next_cursor, null);
      const v1 = await a.get('/datasets/basics/items?version=1');
      assert.equal(v1.body.items.length, 2);
      assert.equal((await a.get('/datasets/basics/items?version=9')).status, 404);
      assert.equal((await a.get('/datasets/nope/items')).status, 404);
      assert.equal((await a.get('/datasets/basics/items?cursor=garbage')).status, 400);
    });

    it('imports 200 items of JSON Lines as one version, and exports them back', async () => {
      assert.equal((await a.post('/datasets', { name: 'big' })).status, 201);
      const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ input: { question: `q${i}`, n: i }, expected: `a${i}`, metadata: { i } }));
      const imported = await a.raw('POST', '/datasets/big/import', `${lines.join('\n')}\n`, { 'Content-Type': 'application/x-ndjson' });
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      assert.deepEqual(imported.body, { dataset: 'big', version: 1, added: 200, item_count: 200 });
      const seen: any[] = [];
      for (let cursor = ''; ; ) {
        const page = await a.get(`/datasets/big/items?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items);
        if (!page.body.next_cursor) break;
        cursor = page.body.next_cursor;
      }
      assert.equal(seen.length, 200);
      assert.deepEqual(seen.map((i) => i.input.n), Array.from({ length: 200 }, (_, i) => i));
      assert.deepEqual(seen.map((i) => i.seq), Array.from({ length: 200 }, (_, i) => i + 1));
      const exported = await fetch(`${s.url}/datasets/big/export`, { headers: { 'X-API-Key': ADMIN_KEY } });
      assert.equal(exported.status, 200);
      assert.match(exported.headers.get('content-type') ?? '', /application\/x-ndjson/);
      const text = await exported.text();
      assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l)), lines.map((l) => JSON.parse(l)));
    });

    it('refuses a CSV with a bad row naming its line, storing nothing; a good CSV imports and round-trips', async () => {
      assert.equal((await a.post('/datasets', { name: 'csv' })).status, 201);
      const bad = await a.raw('POST', '/datasets/csv/import', 'question,expected,metadata.source\nWhat is 1+1?,2,manual\n"Say ""hi""",hi,manual\nbroken row,x\nlast,y,z\n', { 'Content-Type': 'text/csv' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_dataset_row');
      assert.equal(bad.body.error.line, 4);
      assert.match(bad.body.error.message, /^line 4: has 2 fields, the header has 3; nothing was imported$/);
      const after = await a.get('/datasets/csv');
      assert.equal(after.body.item_count, 0);
      assert.equal(after.body.version, 0);
      assert.equal((await a.get('/datasets/csv/items')).body.items.length, 0);

      const good = await a.raw('POST', '/datasets/csv/import', 'question,expected,metadata.source\n"a, b",2,manual\n"multi\nline","say ""x""",auto\n', { 'Content-Type': 'text/csv; charset=utf-8' });
      assert.equal(good.status, 201, JSON.stringify(good.body));
      const items = (await a.get('/datasets/csv/items')).body.items;
      assert.deepEqual(items.map((i: any) => [i.input, i.expected, i.metadata]), [
        [{ question: 'a, b' }, '2', { source: 'manual' }],
        [{ question: 'multi\nline' }, 'say "x"', { source: 'auto' }],
      ]);
      const csv = await fetch(`${s.url}/datasets/csv/export?format=csv`, { headers: { 'X-API-Key': ADMIN_KEY } });
      assert.deepEqual(parseCsv(await csv.text()), items.map((i: any) => ({ input: i.input, expected: i.expected, metadata: i.metadata })));

      const json = await a.raw('POST', '/datasets/csv/import', '{"input":{}}', { 'Content-Type': 'application/json' });
      assert.equal(json.status, 415);
      const empty = await a.raw('POST', '/datasets/csv/import', '\n\n', { 'Content-Type': 'application/x-ndjson' });
      assert.equal(empty.status, 400);
      assert.equal((await a.get('/datasets/csv')).body.version, 1);
    });

    it('adds an item from a logged execution, with executions:read', async () => {
      assert.equal((await a.post('/datasets', { name: 'from-logs' })).status, 201);
      const logged = await a.post('/executions', { prompt: 'qa', version: 1, input_variables: { question: 'capital of France?' }, response: 'Paris' });
      assert.equal(logged.status, 201);
      const id = logged.body.ids[0];
      const added = await a.post(`/datasets/from-logs/items/from-execution/${id}`, {});
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.version, 1);
      assert.deepEqual(added.body.item.input, { question: 'capital of France?' });
      assert.equal(added.body.item.expected, 'Paris');
      assert.equal(added.body.item.source_execution_id, id);
      assert.equal(added.body.item.metadata.prompt, 'qa');
      const corrected = await a.post(`/datasets/from-logs/items/from-execution/${id}`, { expected: 'Paris, France' });
      assert.equal(corrected.body.item.expected, 'Paris, France');
      assert.equal(corrected.body.item.seq, 2);

      const writer = (await a.post('/keys', { name: 'dataset-writer', scopes: ['write'] })).body.key as string;
      const refused = await s.as(writer).post(`/datasets/from-logs/items/from-execution/${id}`, {});
      assert.equal(refused.status, 403);
      assert.match(refused.body.error.message, /executions:read/);
      const missing = await a.post('/datasets/from-logs/items/from-execution/00000000-0000-4000-8000-000000000000', {});
      assert.equal(missing.status, 404);
      assert.equal((await a.get('/datasets/from-logs')).body.item_count, 2);
    });

    it('checks an evaluator over HTTP: a bad regex is a 400 naming the field, a good one scores', async () => {
      const bad = await a.post('/evaluators/test', { evaluator: { type: 'regex', pattern: '([a-z' }, output: 'x' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_evaluator');
      assert.equal(bad.body.error.field, 'evaluator.pattern');
      const good = await a.post('/evaluators/test', { evaluator: { type: 'exact_match', name: 'exact' }, output: 'Paris', expected: 'Paris' });
      assert.deepEqual(good.body, { evaluator: 'exact', score: 1, passed: true, reason: 'the output equals the expected value' });
    });
  });
}
