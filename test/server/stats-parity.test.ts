import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nearestRank } from '../../server/executions/percentiles.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { random } from '../support/random.js';

const DAY = 86_400_000;
const END = Date.parse('2026-03-10T00:00:00.000Z');
const hex = (n: number) => n.toString(16).padStart(12, '0');

interface Row {
  id: string;
  prompt: string;
  version: number;
  executed_at: string;
  environment: string;
  latency_ms: number | null;
  input_tokens: number;
  output_tokens: number | null;
  cost_usd: number;
  quality_score: number | null;
  status: 'ok' | 'error';
}

function dataset(): { rows: Row[]; scores: Array<{ index: number; metric: string; value: number | boolean | string; source: string }> } {
  const next = random(20260310);
  const rows: Row[] = Array.from({ length: 3_000 }, (_, i) => ({
    id: `00000000-0000-4000-8000-${hex(i + 1)}`,
    prompt: 'parity',
    version: 1 + Math.floor(next() * 3),
    // Spread over 6 days before END, at millisecond resolution.
    executed_at: new Date(END - 1 - Math.floor(next() * 6 * DAY)).toISOString(),
    environment: next() < 0.3 ? 'staging' : 'production',
    // Many ties and some gaps: whole milliseconds from a skewed distribution.
    latency_ms: next() < 0.05 ? null : Math.floor(20 + 3000 * next() ** 3),
    input_tokens: Math.floor(next() * 2000),
    output_tokens: next() < 0.1 ? null : Math.floor(next() * 800),
    // Fractions with long binary expansions: the case where summation order shows.
    cost_usd: Math.round(next() * 1e7) / 1e9,
    quality_score: next() < 0.2 ? null : Math.round(next() * 1000) / 1000,
    status: next() < 0.07 ? 'error' : 'ok',
  }));
  const scores = Array.from({ length: 600 }, () => {
    const index = Math.floor(next() * rows.length);
    const kind = Math.floor(next() * 3);
    const source = ['human', 'code', 'llm'][Math.floor(next() * 3)]!;
    if (kind === 0) return { index, metric: 'accuracy', value: Math.round(next() * 100) / 100, source };
    if (kind === 1) return { index, metric: 'helpful', value: next() < 0.6, source };
    return { index, metric: 'tone', value: ['warm', 'neutral', 'cold'][Math.floor(next() * 3)]!, source };
  });
  return { rows, scores };
}

/** Drops what differs by construction between two databases (generated version ids). */
function comparable(body: any): unknown {
  return JSON.parse(JSON.stringify(body, (key, value) => (key === 'version_id' ? undefined : value)));
}

describe('statistics: the same numbers on SQLite and Postgres', () => {
  const servers: Partial<Record<(typeof DIALECTS)[number], TestServer>> = {};
  const { rows, scores } = dataset();

  before(async () => {
    for (const dialect of DIALECTS) {
      const s = await startTestServer(dialect);
      servers[dialect] = s;
      for (let v = 1; v <= 3; v++) assert.equal((await s.admin.post('/prompts/parity/versions', { content: `v${v} {{q}}` })).status, 201);
      assert.equal((await s.admin.post('/metrics', { name: 'accuracy', type: 'numeric', min: 0, max: 1 })).status, 201);
      assert.equal((await s.admin.post('/metrics', { name: 'helpful', type: 'boolean' })).status, 201);
      assert.equal((await s.admin.post('/metrics', { name: 'tone', type: 'categorical', categories: ['warm', 'neutral', 'cold'] })).status, 201);
      for (let i = 0; i < rows.length; i += 1_000) {
        const r = await s.admin.post('/executions', rows.slice(i, i + 1_000));
        assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
      }
      for (const sc of scores) {
        const r = await s.admin.post(`/executions/${rows[sc.index]!.id}/scores`, { metric: sc.metric, value: sc.value, source: sc.source });
        assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
      }
    }
  });
  after(async () => {
    for (const s of Object.values(servers)) await s?.close();
  });

  const queries = [
    `/prompts/parity/stats?from=${new Date(END - 7 * DAY).toISOString()}&to=${new Date(END).toISOString()}`,
    `/prompts/parity/stats?from=${new Date(END - 7 * DAY).toISOString()}&to=${new Date(END).toISOString()}&environment=staging`,
    `/prompts/parity/stats?from=${new Date(END - 2 * DAY).toISOString()}&to=${new Date(END).toISOString()}&interval=hour`,
    `/prompts/parity/stats?from=${new Date(END - 3.5 * DAY + 12_345).toISOString()}&to=${new Date(END - DAY - 777).toISOString()}&environment=production&interval=day`,
    '/prompts/parity/compare?a=1&b=2',
    `/prompts/parity/compare?a=3&b=1&environment=production&from=${new Date(END - 4 * DAY).toISOString()}`,
  ];

  for (const query of queries) {
    it(`answers ${query.split('?')[0]} identically (${query.split('?')[1]})`, async () => {
      const [a, b] = await Promise.all(DIALECTS.map((d) => servers[d]!.admin.get(query)));
      assert.equal(a!.status, 200, JSON.stringify(a!.body));
      assert.equal(b!.status, 200, JSON.stringify(b!.body));
      assert.deepEqual(comparable(a!.body), comparable(b!.body));
    });
  }

  it('matches a reference computation: nearest-rank percentiles, exact counts and sums', async () => {
    const from = new Date(END - 7 * DAY).toISOString();
    const to = new Date(END).toISOString();
    for (const dialect of DIALECTS) {
      const { body } = await servers[dialect]!.admin.get(`/prompts/parity/stats?from=${from}&to=${to}`);
      for (const v of body.versions) {
        const mine = rows.filter((r) => r.version === v.version && r.executed_at >= from && r.executed_at < to);
        const latencies = Float64Array.from(mine.flatMap((r) => (r.latency_ms === null ? [] : [r.latency_ms]))).sort();
        assert.equal(v.count, mine.length);
        assert.equal(v.errors, mine.filter((r) => r.status === 'error').length);
        assert.deepEqual([v.latency_ms.p50, v.latency_ms.p95, v.latency_ms.p99], [0.5, 0.95, 0.99].map((p) => nearestRank(latencies, p)));
        assert.equal(v.input_tokens.sum, mine.reduce((n, r) => n + r.input_tokens, 0));
        assert.equal(v.output_tokens.sum, mine.reduce((n, r) => n + (r.output_tokens ?? 0), 0));
        const cost = mine.reduce((n, r) => n + r.cost_usd, 0);
        assert.ok(Math.abs(v.cost_usd.sum - cost) <= 1e-9 * Math.max(1, cost), `${dialect} cost ${v.cost_usd.sum} vs ${cost}`);
        const helpful = scores.filter((s) => s.metric === 'helpful' && rows[s.index]!.version === v.version);
        const unique = new Map(helpful.map((s) => [`${s.index}/${s.source}`, s.value]));
        assert.equal(v.metrics.helpful.count, unique.size, 'a source scoring again replaced its score');
      }
      // Every series bucket's p95 is the nearest rank of that bucket's latencies.
      for (const point of body.series) {
        const start = point.start as string;
        const end = new Date(Date.parse(start) + DAY).toISOString();
        const inBucket = rows.filter((r) => r.version === point.version && r.executed_at >= start && r.executed_at < end && r.latency_ms !== null);
        assert.equal(point.latency_ms.p95, nearestRank(Float64Array.from(inBucket.map((r) => r.latency_ms!)).sort(), 0.95));
      }
    }
  });
});
