import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { twoReplicas } from '../support/server.js';
import { eventually } from '../support/wait.js';

describe('two replicas on one Postgres', () => {
  const replicas = twoReplicas();

  it("invalidates each replica's resolve cache when another deploys or rolls back", async () => {
    const { a, b } = replicas;
    await a.admin.post('/prompts/shared/versions', { content: 'one' });
    await a.admin.post('/prompts/shared/versions', { content: 'two' });
    // B caches "not deployed", then A deploys: B must see it.
    assert.equal((await b.admin.get('/prompts/shared/latest')).status, 404);
    assert.equal((await a.admin.post('/prompts/shared/deployments', { version: 1, environment: 'production' })).status, 201);
    await eventually(async () => (await b.admin.get('/prompts/shared/latest')).body.version_number === 1, 'B sees version 1');

    assert.equal((await b.admin.post('/prompts/shared/deployments', { version: 2, environment: 'production' })).status, 201);
    await eventually(async () => (await a.admin.get('/prompts/shared/latest')).body.version_number === 2, 'A sees version 2');

    assert.equal((await b.admin.post('/prompts/shared/rollback', { environment: 'production' })).status, 201);
    await eventually(async () => (await a.admin.get('/prompts/shared/latest')).body.version_number === 1, 'A sees the rollback');
  });

  it('serves from its cache until a change arrives (no database read per request)', async () => {
    const { a } = replicas;
    await a.admin.post('/prompts/cached/versions', { content: 'c' });
    await a.admin.post('/prompts/cached/deployments', { version: 1, environment: 'staging' });
    const first = await a.admin.get('/prompts/cached/latest?environment=staging');
    assert.equal(first.status, 200);
    const cache = a.running.registry.services.deployments.cache;
    assert.ok(cache.get('cached', 'staging'), 'the answer is cached');
  });

  it('stops accepting a revoked key on the other replica', async () => {
    const { a, b } = replicas;
    const created = await a.admin.post('/keys', { name: 'temp', scopes: ['read'] });
    const onB = b.as(created.body.key);
    assert.equal((await onB.get('/prompts')).status, 200);
    assert.equal((await a.admin.delete('/keys/temp')).status, 200);
    await eventually(async () => (await onB.get('/prompts')).status === 401, 'B refuses the revoked key');
  });
});
