import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionSummary, PromptStats, SeriesPoint, VersionStats } from '../../client/index.js';
import { executionQuery, normalizeFilter, statsWindow } from '../../extension/core/executions.js';
import { mergeNewest, parseScoreValue, rowCells } from '../../webview/executions/model.js';
import { formatCost, formatCount, formatDifference, formatLatency, formatPercent, formatScore, formatTime, formatTokens } from '../../webview/format.js';
import { chartData, comparisonRows, versionColumns } from '../../webview/stats/model.js';

const NOW = new Date('2026-06-15T12:00:00.000Z');

function execution(id: string, over: Partial<ExecutionSummary> = {}): ExecutionSummary {
  return {
    id,
    prompt: 'greeting',
    version: 2,
    prompt_version_id: 'v2',
    environment: 'production',
    executed_at: '2026-06-15T11:59:00.000Z',
    status: 'ok',
    error: null,
    input_tokens: 412,
    output_tokens: 96,
    latency_ms: 830,
    cost_usd: 0.0021,
    quality_score: 0.9,
    metadata: {},
    redacted_at: null,
    ...over,
  };
}

describe('the Executions view filter', () => {
  it('maps a filter to the list query, its time range ending now', () => {
    assert.deepEqual(executionQuery({ prompt: 'greeting', version: 2, environment: 'production', status: 'error', range: '1h' }, NOW), {
      prompt: 'greeting',
      version: 2,
      environment: 'production',
      status: 'error',
      from: '2026-06-15T11:00:00.000Z',
    });
    assert.equal(executionQuery({ range: '7d' }, NOW).from, '2026-06-08T12:00:00.000Z');
    assert.equal(executionQuery({ range: '30d' }, NOW).from, '2026-05-16T12:00:00.000Z');
    assert.deepEqual(executionQuery({ range: 'all' }, NOW), {}, 'all time has no lower bound');
    assert.deepEqual(executionQuery({ version: 3, range: 'all' }, NOW), {}, 'a version needs its prompt');
  });

  it('drops what a webview sent malformed instead of passing it on', () => {
    assert.deepEqual(normalizeFilter({ prompt: ' greeting ', version: 1.5, environment: 'Prod!', status: 'maybe', range: '2y' }), { prompt: 'greeting', range: '24h' });
    assert.deepEqual(normalizeFilter(null), { range: '24h' });
    assert.deepEqual(normalizeFilter({ prompt: '../x', version: 2, range: 'all' }), { range: 'all' });
    assert.deepEqual(normalizeFilter({ prompt: 'a', version: 2, environment: 'staging', status: 'ok', range: '7d' }), { prompt: 'a', version: 2, environment: 'staging', status: 'ok', range: '7d' });
  });

  it('asks for hourly statistics up to 7 days, daily beyond', () => {
    assert.deepEqual(statsWindow('24h', NOW), { from: '2026-06-14T12:00:00.000Z', to: NOW.toISOString(), interval: 'hour' });
    assert.equal(statsWindow('7d', NOW).interval, 'hour');
    assert.deepEqual(statsWindow('90d', NOW), { from: '2026-03-17T12:00:00.000Z', to: NOW.toISOString(), interval: 'day' });
    assert.equal(statsWindow('365d', NOW).from, '2025-06-15T12:00:00.000Z');
  });
});

describe('formatting', () => {
  it('writes latencies, costs, counts, tokens, scores and shares', () => {
    assert.deepEqual([830, 1710, 12_400, 200_000, null].map(formatLatency), ['830 ms', '1.71 s', '12.4 s', '3 min 20 s', '—']);
    assert.deepEqual([2.5, 0.0021, 0.1, 0.001, 0.000004, 0.0000001, 0, 1234.5, null].map(formatCost), ['$2.50', '$0.0021', '$0.10', '$0.0010', '$0.0000040', '$0.0000001', '$0', '$1,234.50', '—']);
    assert.deepEqual([999, 1200, 48_200, 12_300_000, 95.14].map(formatCount), ['999', '1,200', '48.2k', '12.3M', '95.1']);
    assert.equal(formatTokens(412, 96), '412 → 96');
    assert.equal(formatTokens(null, 96), '— → 96');
    assert.equal(formatTokens(null, null), '—');
    assert.deepEqual([0.9, 0.8766, 120.25, null].map(formatScore), ['0.9', '0.877', '120.3', '—']);
    assert.deepEqual([0, 0.0118, 0.25, 0.001].map(formatPercent), ['0%', '1.2%', '25%', '0.1%']);
    assert.equal(formatDifference(-300, formatLatency), '−300 ms');
    assert.equal(formatDifference(0.1, formatScore), '+0.1');
    assert.equal(formatDifference(null, formatScore), '—');
  });

  it('shows the time of day for today and the date otherwise, in the given time zone', () => {
    assert.equal(formatTime('2026-06-15T11:59:07.000Z', NOW, 'UTC'), '11:59:07');
    assert.equal(formatTime('2026-06-14T09:05:00.000Z', NOW, 'UTC'), '14 Jun, 09:05');
    assert.equal(formatTime('2025-12-31T23:00:00.000Z', NOW, 'UTC'), '31 Dec 2025, 23:00');
    assert.equal(formatTime('2026-06-15T23:30:00.000Z', NOW, 'Asia/Tokyo'), '16 Jun, 08:30', 'another day in Tokyo');
    assert.equal(formatTime('not a time', NOW, 'UTC'), 'not a time');
  });

  it('writes a table row in column order', () => {
    assert.deepEqual(rowCells(execution('a'), NOW, 'UTC'), ['11:59:00', 'greeting', 'v2', 'production', '830 ms', '412 → 96', '$0.0021', '0.9', 'ok']);
    assert.deepEqual(rowCells(execution('b', { environment: null, latency_ms: null, cost_usd: null, quality_score: null, status: 'error' }), NOW, 'UTC').slice(3), ['—', '—', '412 → 96', '—', '—', 'error']);
  });
});

describe('refreshing the list in the background', () => {
  const page = (ids: string[], next_cursor: string | null = null) => ({ items: ids.map((id) => execution(id)), next_cursor });

  it('puts new executions on top and keeps what was loaded below', () => {
    const merged = mergeNewest(page(['c', 'b', 'a'], 'cur'), page(['e', 'd', 'c']));
    assert.deepEqual(merged.items.map((e) => e.id), ['e', 'd', 'c', 'b', 'a']);
    assert.equal(merged.next_cursor, 'cur', 'Load more goes on where it was');
    assert.deepEqual(mergeNewest(page(['b', 'a']), page(['b', 'a'])).items.map((e) => e.id), ['b', 'a'], 'nothing new, nothing changes');
  });

  it('starts again from the newest page when more than a page arrived', () => {
    const merged = mergeNewest(page(['b', 'a'], 'old'), page(['z', 'y'], 'new'));
    assert.deepEqual(merged.items.map((e) => e.id), ['z', 'y']);
    assert.equal(merged.next_cursor, 'new');
  });
});

describe('a score as typed', () => {
  const numeric = { name: 'accuracy', type: 'numeric' as const, min: 0, max: 1, categories: null };
  it('accepts values that fit the metric', () => {
    assert.deepEqual(parseScoreValue(numeric, ' 0.75 '), { ok: true, value: 0.75 });
    assert.deepEqual(parseScoreValue({ ...numeric, min: null, max: null }, '-3e2'), { ok: true, value: -300 });
    assert.deepEqual(parseScoreValue({ name: 'helpful', type: 'boolean', min: null, max: null, categories: null }, 'Yes'), { ok: true, value: true });
    assert.deepEqual(parseScoreValue({ name: 'helpful', type: 'boolean', min: null, max: null, categories: null }, 'false'), { ok: true, value: false });
    assert.deepEqual(parseScoreValue({ name: 'tone', type: 'categorical', min: null, max: null, categories: ['warm', 'cold'] }, 'warm'), { ok: true, value: 'warm' });
  });

  it('refuses values that do not, saying what the metric takes', () => {
    const refused = (r: ReturnType<typeof parseScoreValue>) => (r.ok ? 'accepted' : r.message);
    assert.equal(refused(parseScoreValue(numeric, '1.5')), 'accuracy is a number from 0 to 1; 1.5 is outside.');
    assert.equal(refused(parseScoreValue(numeric, '0x1')), 'accuracy is a number; "0x1" is not.');
    assert.equal(refused(parseScoreValue(numeric, '')), 'Enter a number from 0 to 1.');
    assert.equal(refused(parseScoreValue({ name: 'helpful', type: 'boolean', min: null, max: null, categories: null }, 'maybe')), 'helpful is true or false.');
    assert.equal(refused(parseScoreValue({ name: 'tone', type: 'categorical', min: null, max: null, categories: ['warm', 'cold'] }, 'Warm')), 'tone is one of: warm, cold.');
  });
});

function point(start: string, version: number, p95: number | null, count = 1): SeriesPoint {
  return { start, version, count, errors: 0, error_rate: 0, latency_ms: { p95, mean: p95 }, cost_usd: { sum: 0.01 * count, mean: 0.01 }, quality_score: { mean: null } };
}

describe('statistics view data', () => {
  const stats: Pick<PromptStats, 'from' | 'to' | 'series' | 'versions'> = {
    from: '2026-06-15T00:00:00.000Z',
    to: '2026-06-15T12:00:00.000Z',
    series: [point('2026-06-15T01:00:00.000Z', 1, 500), point('2026-06-15T02:00:00.000Z', 1, 700), point('2026-06-15T02:00:00.000Z', 2, 300, 4), point('2026-06-15T05:00:00.000Z', 2, 250)],
    versions: [],
  };

  it('aligns each version on the buckets of the whole series, with gaps where it had none', () => {
    const d = chartData(stats, 'latency_p95');
    assert.deepEqual(d.x, [Date.parse('2026-06-15T01:00:00Z') / 1000, Date.parse('2026-06-15T02:00:00Z') / 1000, Date.parse('2026-06-15T05:00:00Z') / 1000]);
    assert.deepEqual(d.series, [
      { version: 1, values: [500, 700, null] },
      { version: 2, values: [null, 300, 250] },
    ]);
    assert.deepEqual(d.range, [Date.parse(stats.from) / 1000, Date.parse(stats.to) / 1000]);
    assert.equal(d.hasData, true);
    assert.deepEqual(chartData(stats, 'count').series[1]!.values, [null, 4, 1]);
    assert.equal(chartData(stats, 'quality_mean').hasData, false, 'no version has a quality score');
    assert.equal(chartData({ ...stats, series: [] }, 'latency_p95').hasData, false);
  });

  it('lays out the per-version table with a column per custom metric', () => {
    const v: VersionStats = {
      version: 3,
      version_id: 'x',
      count: 1200,
      errors: 12,
      error_rate: 0.01,
      latency_ms: { p50: 640, p95: 1710, p99: 2950, mean: 731.2 },
      input_tokens: { mean: 410.5, sum: 492600 },
      output_tokens: { mean: 95.1, sum: 114120 },
      cost_usd: { sum: 2.52, mean: 0.0021 },
      quality_score: { mean: 0.87 },
      metrics: { tone: { mean: null, count: 40, categories: { cold: 9, warm: 31 } }, helpful: { mean: 0.92, count: 300 } },
    };
    const columns = versionColumns({ versions: [v] });
    assert.deepEqual(columns.map((c) => c.title), ['Version', 'Executions', 'Error rate', 'p50', 'p95', 'p99', 'Tokens in', 'Tokens out', 'Cost (mean)', 'Cost (total)', 'Quality', 'helpful', 'tone']);
    assert.deepEqual(columns.map((c) => c.cell(v)), ['v3', '1,200', '1%', '640 ms', '1.71 s', '2.95 s', '410.5', '95.1', '$0.0021', '$2.52', '0.87', '0.92 (300)', 'warm 31 · cold 9']);
  });

  it('writes a comparison as measure, a, b and the difference', () => {
    const rows = comparisonRows({
      prompt: 'p',
      environment: null,
      from: null,
      to: null,
      a: { version: 1, count: 10 },
      b: { version: 2, count: 12 },
      metrics: [
        { name: 'latency_ms', kind: 'builtin', type: 'numeric', a: { mean: 900, count: 10 }, b: { mean: 600, count: 12 }, difference: -300 },
        { name: 'quality_score', kind: 'builtin', type: 'numeric', a: { mean: null, count: 0 }, b: { mean: 0.8, count: 2 }, difference: null },
      ],
    });
    assert.deepEqual(rows, [
      ['Latency (mean)', '900 ms (10)', '600 ms (12)', '−300 ms'],
      ['Quality (mean)', '—', '0.8 (2)', '—'],
    ]);
  });
});
