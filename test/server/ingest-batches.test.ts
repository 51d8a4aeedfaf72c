import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { COPY_MIN_ROWS } from '../../server/executions/store/postgres.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Large batches take another path than small ones on Postgres (COPY FROM STDIN, and the
// multi-row INSERT when a retry brings ids stored already): every value must come back as sent,
// and retries must store nothing twice, whichever path a batch took. Run on both dialects.

const BATCH = Math.max(COPY_MIN_ROWS, 120);

/** Text that an escaping mistake would change: tabs, newlines, backslashes, quotes, a COPY end marker, non-ASCII. */
const tricky = (i: number) => `row ${i}\ttab\nnewline\r\nCRLF \\ backslash \\N \\. "quoted" 'single' ünïcødé 🙂 ${'x'.repeat(i % 7)}`;

function execution(versionId: string, i: number) {
  return {
    id: randomUUID(),
    prompt_version_id: versionId,
    executed_at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    ...(i % 3 === 0 ? {} : { environment: i % 2 ? 'production' : 'staging' }),
    input_variables: i % 4 === 0 ? null : { text: tricky(i), nested: { list: [1, 'two\\three', null, { "k\"ey": '\t' }] }, n: i },
    rendered_prompt: i % 5 === 0 ? null : tricky(i),
    response: tricky(i + 1),
    input_tokens: i % 6 === 0 ? null : i,
    output_tokens: 2_147_483_647 - i,
    latency_ms: i % 7 === 0 ? null : 0,
    cost_usd: i % 8 === 0 ? null : 1e-7 * (i + 1),
    quality_score: i % 9 === 0 ? null : -0.123456789012345 * i,
    ...(i % 10 === 0 ? { status: 'error', error: tricky(i) } : {}),
    metadata: i % 11 === 0 ? {} : { trace: `t-${i}`, tricky: tricky(i) },
  };
}

for (const dialect of DIALECTS) {
  describe(`ingestion of large batches (${dialect})`, () => {
    let s: TestServer;
    let versionId: string;
    before(async () => {
      s = await startTestServer(dialect);
      const v = await s.admin.post('/prompts/batches/versions', { content: 'b {{q}}' });
      assert.equal(v.status, 201);
      versionId = v.body.version_id;
    });
    after(() => s.close());

    const stored = async () => Number((await s.running.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM prompt_executions'))!.n);

    it('stores every value of every row exactly as sent', async () => {
      const rows = Array.from({ length: BATCH }, (_, i) => execution(versionId, i));
      const r = await s.admin.post('/executions', rows);
      assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
      assert.deepEqual(r.body, { accepted: BATCH, inserted: BATCH, duplicates: 0, ids: rows.map((e) => e.id) });
      for (const [i, sent] of rows.entries()) {
        const { status, body } = await s.admin.get(`/executions/${sent.id}`);
        assert.equal(status, 200);
        assert.equal(body.executed_at, sent.executed_at, `row ${i}`);
        assert.equal(body.environment, sent.environment ?? null, `row ${i}`);
        assert.deepEqual(body.input_variables, sent.input_variables, `row ${i}`);
        assert.equal(body.rendered_prompt, sent.rendered_prompt, `row ${i}`);
        assert.equal(body.response, sent.response, `row ${i}`);
        assert.equal(body.input_tokens, sent.input_tokens, `row ${i}`);
        assert.equal(body.output_tokens, sent.output_tokens, `row ${i}`);
        assert.equal(body.latency_ms, sent.latency_ms, `row ${i}`);
        assert.equal(body.cost_usd, sent.cost_usd, `row ${i}`);
        assert.equal(body.quality_score, sent.quality_score, `row ${i}`);
        assert.equal(body.status, sent.status ?? 'ok', `row ${i}`);
        assert.equal(body.error, sent.error ?? null, `row ${i}`);
        assert.deepEqual(body.metadata, sent.metadata, `row ${i}`);
      }
    });

    it('stores a retried large batch once: the new rows of it, none twice', async () => {
      const first = Array.from({ length: BATCH }, (_, i) => execution(versionId, 1_000 + i));
      assert.equal((await s.admin.post('/executions', first)).status, 201);
      const before = await stored();

      const again = await s.admin.post('/executions', first);
      assert.equal(again.status, 200, 'nothing new');
      assert.deepEqual(again.body, { accepted: BATCH, inserted: 0, duplicates: BATCH, ids: first.map((e) => e.id) });

      // Half stored already, half new: the new half is stored, and only it.
      const fresh = Array.from({ length: BATCH / 2 }, (_, i) => execution(versionId, 2_000 + i));
      const mixed = await s.admin.post('/executions', [...first.slice(0, BATCH / 2), ...fresh]);
      assert.equal(mixed.status, 201);
      assert.equal(mixed.body.inserted, BATCH / 2);
      assert.equal(mixed.body.duplicates, BATCH / 2);
      assert.equal(await stored(), before + BATCH / 2);
      const { body } = await s.admin.get(`/executions/${fresh[0]!.id}`);
      assert.equal(body.response, fresh[0]!.response);
    });

    it('stores each id once when the same large batch arrives twice at once', async () => {
      const rows = Array.from({ length: BATCH }, (_, i) => execution(versionId, 3_000 + i));
      const before = await stored();
      const answers = await Promise.all([s.admin.post('/executions', rows), s.admin.post('/executions', rows), s.admin.post('/executions', rows)]);
      for (const a of answers) assert.ok(a.status === 201 || a.status === 200, JSON.stringify(a.body).slice(0, 300));
      assert.equal(
        answers.reduce((n, a) => n + a.body.inserted, 0),
        BATCH,
        'between them, the three requests stored every row once',
      );
      assert.equal(await stored(), before + BATCH);
    });
  });
}
