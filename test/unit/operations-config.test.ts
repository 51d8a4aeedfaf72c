import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { operations, serverConfig } from '../../server/config.js';

describe('operational settings', () => {
  it('default to no metrics port, loopback, and bounded database waits', () => {
    const config = serverConfig({}, {});
    assert.equal(config.metricsPort, undefined);
    assert.equal(config.operatorMetrics, false);
    assert.deepEqual(operations(config), {
      metricsHost: '127.0.0.1',
      dbPoolSize: 10,
      dbConnectTimeoutMs: 5_000,
      dbStatementTimeoutMs: 30_000,
      shutdownDelayMs: 0,
      shutdownGraceMs: 10_000,
    });
  });

  it('take flags over environment variables', () => {
    const config = serverConfig({ metricsPort: '9464' }, { PROMPT_REGISTRY_METRICS_PORT: '1', PROMPT_REGISTRY_METRICS_HOST: '0.0.0.0', PROMPT_REGISTRY_DB_STATEMENT_TIMEOUT_MS: '0' });
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.operatorMetrics, true);
    assert.equal(config.metricsHost, '0.0.0.0');
    assert.equal(config.dbStatementTimeoutMs, 0);
  });

  it('refuse values that are not whole milliseconds or a pool size, naming the variable', () => {
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_DB_CONNECT_TIMEOUT_MS: '5s' }), /PROMPT_REGISTRY_DB_CONNECT_TIMEOUT_MS "5s": whole milliseconds/);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_SHUTDOWN_DELAY_MS: '-1' }), /PROMPT_REGISTRY_SHUTDOWN_DELAY_MS/);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_DB_POOL_SIZE: '0' }), /PROMPT_REGISTRY_DB_POOL_SIZE "0"/);
    assert.throws(() => serverConfig({ metricsPort: 'x' }, {}), /invalid port "x"/);
  });
});
