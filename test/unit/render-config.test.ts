import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverConfig } from '../../server/config.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS } from '../../server/templates/pool.js';

describe('render settings of serve', () => {
  it('defaults to the shared limits', () => {
    assert.deepEqual(serverConfig({}, {}).templates, DEFAULT_TEMPLATE_POOL_OPTIONS);
  });

  it('reads PROMPT_REGISTRY_RENDER_* variables, and --render-* flags over them', () => {
    const env = { PROMPT_REGISTRY_RENDER_MAX_ITERATIONS: '500000', PROMPT_REGISTRY_RENDER_TIMEOUT_MS: '5000', PROMPT_REGISTRY_RENDER_THREADS: '8' };
    const t = serverConfig({ renderTimeoutMs: '750', renderMaxDepth: '64', renderWorkerHeapMb: '512' }, env).templates;
    assert.equal(t.limits.maxIterations, 500_000);
    assert.equal(t.limits.timeoutMs, 750);
    assert.equal(t.limits.maxDepth, 64);
    assert.equal(t.limits.maxTags, DEFAULT_TEMPLATE_POOL_OPTIONS.limits.maxTags);
    assert.equal(t.threads, 8);
    assert.equal(t.workerHeapMb, 512);
  });

  it('refuses a value that is not a whole number, naming the setting', () => {
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_RENDER_MAX_TAGS: 'many' }), /PROMPT_REGISTRY_RENDER_MAX_TAGS \(--render-max-tags\)/);
    assert.throws(() => serverConfig({ renderTimeoutMs: '0' }, {}), /--render-timeout-ms/);
  });
});
