import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout, UsedBy } from '../../client/index.js';
import { sinceWindow } from '../../extension/core/executions.js';
import {
  affectedDependents,
  dependentsDetail,
  guardText,
  liveRolloutText,
  mapLimit,
  parseThreshold,
  parseWeight,
  parseWindow,
  rolloutText,
  splitText,
  usedByHeading,
  usedByText,
} from '../../extension/core/rollouts.js';

function rollout(over: Partial<Rollout> = {}): Rollout {
  return {
    id: '3f2c1a9e-0000-4000-8000-000000000000',
    prompt: 'support-reply',
    environment: 'production',
    candidate: 4,
    live: 3,
    weight: 10,
    guard: null,
    status: 'active',
    started_at: '2026-12-03T10:00:00.000Z',
    started_by: 'alice',
    updated_at: '2026-12-03T10:00:00.000Z',
    ended_at: null,
    ended_by: null,
    end_reason: null,
    ...over,
  };
}

describe('rollouts and partials in the extension', () => {
  it('shows both versions and their weights, the live one first', () => {
    assert.equal(splitText(rollout()), 'v3 90% · v4 10%');
    const row = rolloutText('support-reply', 'production', rollout());
    assert.deepEqual([row.label, row.description], ['production', 'v3 90% · v4 10% (rollout)']);
    assert.match(row.tooltip, /v4 \(candidate\) serves 10% of keys, v3 \(live\) the other 90%/);
    assert.match(row.tooltip, /no guard/);
    const live = liveRolloutText('support-reply', 'production', rollout({ weight: 50, updated_at: '2026-12-03T11:00:00.000Z', guard: { metric: 'error_rate', window: 200, threshold: 0.05, comparison: 'above_live' } }));
    assert.deepEqual([live.label, live.description], ['support-reply', 'v3 50% · v4 50% (rollout)']);
    assert.match(live.tooltip, /started by alice at 2026-12-03T10:00:00.000Z\nweight last changed at 2026-12-03T11:00:00.000Z/);
    assert.match(live.tooltip, /guard: aborts when error_rate over its last 200 executions, more than 0.05 above the live version’s/);
  });

  it('says what each guard comparison measures', () => {
    assert.equal(guardText({ metric: 'quality_score', window: 50, threshold: 0.1, comparison: 'below_live' }), 'quality_score over its last 50 executions, more than 0.1 below the live version’s');
    assert.equal(guardText({ metric: 'latency_ms', window: 10, threshold: 900, comparison: 'above' }), 'latency_ms over its last 10 executions, above 900');
    assert.equal(guardText({ metric: 'accuracy', window: 10, threshold: 0.5, comparison: 'below' }), 'accuracy over its last 10 executions, below 0.5');
    assert.equal(guardText({ metric: 'error_rate', window: 10, threshold: 0.02 }), 'error_rate over its last 10 executions, more than 0.02 above the live version’s', 'above_live by default, as the registry');
  });

  it('takes a weight as a whole percent from 1 to 99, and says what is wrong otherwise', () => {
    assert.deepEqual(parseWeight('10'), { weight: 10 });
    assert.deepEqual(parseWeight(' 25% '), { weight: 25 });
    assert.deepEqual(parseWeight('99'), { weight: 99 });
    assert.match((parseWeight('0') as { error: string }).error, /abort it/);
    assert.match((parseWeight('100') as { error: string }).error, /promote it/);
    assert.match((parseWeight('12.5') as { error: string }).error, /whole percent/);
    assert.match((parseWeight('') as { error: string }).error, /whole percent/);
    assert.deepEqual(parseWindow('200'), { window: 200 });
    assert.ok('error' in parseWindow('0') && 'error' in parseWindow('10001') && 'error' in parseWindow('2.5'));
    assert.deepEqual(parseThreshold('-0.5'), { threshold: -0.5 });
    assert.ok('error' in parseThreshold('') && 'error' in parseThreshold('abc'));
  });

  it('finds the live prompts a deploy of a partial changes: followers live there and followers of that environment, not pins', () => {
    const usedBy: UsedBy[] = [
      { prompt: 'support-reply', version: 3, ref: 'safety', live_in: ['production', 'staging'] },
      { prompt: 'support-reply', version: 2, ref: 'safety', live_in: [] },
      { prompt: 'greeter', version: 1, ref: 'safety@production', live_in: ['dev'] },
      { prompt: 'onboarding', version: 5, ref: 'safety@2', live_in: ['production'] },
      { prompt: 'faq', version: 1, ref: 'safety', live_in: ['staging'] },
    ];
    const production = affectedDependents(usedBy, 'safety', 'production');
    assert.deepEqual(production.map((u) => `${u.prompt} v${u.version}`), ['support-reply v3', 'greeter v1']);
    assert.deepEqual(affectedDependents(usedBy, 'safety', 'staging').map((u) => `${u.prompt} v${u.version}`), ['support-reply v3', 'faq v1']);
    assert.deepEqual(affectedDependents(usedBy, 'safety', 'dev'), []);
    assert.equal(
      dependentsDetail(production, 'safety', 'production'),
      [
        '2 live prompts include safety as a partial; their text changes with what is live in production:',
        '• support-reply v3 (live in production, staging) includes {{> safety}}',
        '• greeter v1 (live in dev) includes {{> "safety@production"}}',
      ].join('\n'),
    );
  });

  it('labels the "Used by" node and its rows', () => {
    const usedBy: UsedBy[] = [
      { prompt: 'support-reply', version: 3, ref: 'safety', live_in: ['production'] },
      { prompt: 'support-reply', version: 2, ref: 'safety@1', live_in: [] },
      { prompt: 'greeter', version: 1, ref: 'safety@staging', live_in: ['dev'] },
    ];
    const heading = usedByHeading(usedBy);
    assert.deepEqual([heading.label, heading.description], ['Used by', '3 versions of 2 prompts, 2 live']);
    const rows = usedBy.map((u) => usedByText(u, 'safety'));
    assert.deepEqual(rows.map((r) => [r.label, r.description]), [
      ['support-reply v3', 'live in production'],
      ['support-reply v2', 'not live'],
      ['greeter v1', 'live in dev'],
    ]);
    assert.match(rows[0]!.tooltip, /includes \{\{> safety\}\}: it follows safety/);
    assert.match(rows[1]!.tooltip, /pins safety@1/);
    assert.match(rows[2]!.tooltip, /follows what is live in staging/);
  });

  it('windows the statistics from a rollout\'s start', () => {
    const now = new Date('2026-12-03T12:00:00.000Z');
    assert.deepEqual(sinceWindow('2026-12-03T10:00:00.000Z', now), { from: '2026-12-03T10:00:00.000Z', to: '2026-12-03T12:00:00.000Z', interval: 'hour' });
    assert.equal(sinceWindow('2026-11-20T10:00:00.000Z', now)?.interval, 'day');
    // The registry's clock a little ahead: still a window, at least a minute long.
    assert.deepEqual(sinceWindow('2026-12-03T12:01:00.000Z', now), { from: '2026-12-03T12:01:00.000Z', to: '2026-12-03T12:02:00.000Z', interval: 'hour' });
    assert.equal(sinceWindow('not a time', now), undefined);
    assert.equal(sinceWindow(undefined, now), undefined);
    assert.equal(sinceWindow('2024-01-01T00:00:00.000Z', now), undefined, 'past the registry\'s longest window');
  });

  it('maps with a bound on what runs at once, in order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return n * 2;
    });
    assert.deepEqual(out, [2, 4, 6, 8, 10, 12, 14]);
    assert.equal(most, 3);
    assert.deepEqual(await mapLimit([], 3, async () => 1), []);
  });
});
