import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { AUDIENCE, startIdp, type TestIdp } from '../support/idp.js';
import { ADMIN_KEY, startTestServer, twoReplicas, type TestServer } from '../support/server.js';
import { listen, type SseStream } from '../support/sse.js';
import { eventually } from '../support/wait.js';

/** A bound on waiting for a stream to end (the credential's expiry is a few seconds out), not a timing assertion. */
const ENDS_WITHIN_MS = 20_000;

/** The stream's last event says why it ended, in our error shape, with a reconnect hint. */
function assertEndedWith(stream: SseStream, code: string, message: RegExp): void {
  const last = stream.events.at(-1);
  assert.ok(last, 'the stream sent a last event');
  assert.equal(last.event, code);
  assert.equal(last.data.error.code, code);
  assert.match(last.data.error.message, message);
  assert.equal(typeof last.data.error.request_id, 'string');
  assert.ok(last.retry! > 0, 'with a retry hint');
}

for (const dialect of DIALECTS) {
  describe(`event streams live only as long as their credential (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
    });
    after(() => s.close());

    it('ends every stream opened with a key when the key is revoked, and sends nothing after', async () => {
      const key = (await s.admin.post('/keys', { name: 'watcher', scopes: ['read'] })).body.key as string;
      const other = (await s.admin.post('/keys', { name: 'bystander', scopes: ['read'] })).body.key as string;
      const first = await listen(`${s.url}/events`, key);
      const second = await listen(`${s.url}/events?prompt=rev`, key);
      const bystander = await listen(`${s.url}/events`, other);
      assert.equal(first.res.status, 200);

      await s.admin.post('/prompts/rev/versions', { content: 'before' });
      await eventually(() => first.events.length === 1 && second.events.length === 1, 'both streams hear the version made before the revoke');
      assert.equal((await s.admin.delete('/keys/watcher')).status, 200);
      await eventually(() => first.ended() && second.ended(), 'both streams of the revoked key end', ENDS_WITHIN_MS);
      for (const stream of [first, second]) {
        assertEndedWith(stream, 'credential_revoked', /"watcher" was revoked/);
        assert.deepEqual(stream.events.map((e) => e.event), ['version.created', 'credential_revoked']);
      }

      // A change after the revoke reaches the other key's stream and not the revoked ones.
      await s.admin.post('/prompts/rev/versions', { content: 'after' });
      await eventually(() => bystander.events.length === 2, 'the other key still hears changes');
      assert.equal(bystander.ended(), false);
      assert.deepEqual(first.events.map((e) => e.event), ['version.created', 'credential_revoked']);
      assert.equal((await listen(`${s.url}/events`, key)).res.status, 401, 'reconnecting with the revoked key is refused');
      bystander.close();
    });

    it("ends a key's streams at the key's expiry", async () => {
      const expiresAt = new Date(Date.now() + 2_000).toISOString();
      const created = await s.admin.post('/keys', { name: 'short-lived', scopes: ['read'], expires_at: expiresAt });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const stream = await listen(`${s.url}/events`, created.body.key);
      const admin = await listen(`${s.url}/events`, ADMIN_KEY);
      assert.equal(stream.res.status, 200);
      await eventually(() => stream.ended(), 'the stream ends when the key expires', ENDS_WITHIN_MS);
      assertEndedWith(stream, 'credential_expired', /"short-lived" expired at/);
      assert.ok(Date.now() >= Date.parse(expiresAt), 'not before the expiry');
      await s.admin.post('/prompts/exp/versions', { content: 'later' });
      await eventually(() => admin.events.length === 1, 'a key that does not expire keeps its stream');
      assert.deepEqual(stream.events.map((e) => e.event), ['credential_expired']);
      admin.close();
    });

    it('keeps the stream of a key that expires beyond the longest timer (about 24.8 days)', async () => {
      const created = await s.admin.post('/keys', { name: 'long-lived', scopes: ['read'], expires_in_days: 30 });
      const stream = await listen(`${s.url}/events`, created.body.key);
      await s.admin.post('/prompts/long/versions', { content: 'still here' });
      await eventually(() => stream.events.length === 1, 'the stream hears the change');
      assert.deepEqual(stream.events.map((e) => e.event), ['version.created']);
      assert.equal(stream.ended(), false);
      stream.close();
    });
  });

  describe(`event streams opened with a bearer token (${dialect})`, () => {
    let idp: TestIdp;
    let s: TestServer;
    before(async () => {
      idp = await startIdp();
      s = await startTestServer(dialect, { oidc: idp.config() });
    });
    after(async () => {
      await s.close();
      await idp.close();
    });

    it("ends the stream at the token's exp", async () => {
      // A first publish starts the template workers, so the one below is quick enough to land before exp on a busy machine.
      await s.admin.post('/prompts/warm/versions', { content: 'warm' });
      const exp = Math.floor(Date.now() / 1000) + 6;
      const token = await idp.mint({ iss: idp.issuer, aud: AUDIENCE, sub: 'reader-1', email: 'rita@example.com', groups: ['readers'], exp });
      const stream = await listen(`${s.url}/events`, { Authorization: `Bearer ${token}` });
      assert.equal(stream.res.status, 200);
      await s.admin.post('/prompts/tok/versions', { content: 'while valid' });
      await eventually(() => stream.events.length === 1, 'the token hears changes while it is valid');
      await eventually(() => stream.ended(), 'the stream ends at exp', ENDS_WITHIN_MS);
      assertEndedWith(stream, 'credential_expired', /bearer token expired/);
      assert.ok(Date.now() >= exp * 1000, 'not before exp');
      assert.deepEqual(stream.events.map((e) => e.event), ['version.created', 'credential_expired']);
    });
  });
}

describe('a key revoked on another replica (postgres)', () => {
  const replicas = twoReplicas();

  it('ends the stream on this replica', async () => {
    const { a, b } = replicas;
    const key = (await a.admin.post('/keys', { name: 'roaming', scopes: ['read'] })).body.key as string;
    const onB = await listen(`${b.url}/events`, key);
    assert.equal(onB.res.status, 200);
    await a.admin.post('/prompts/rep/versions', { content: 'one' });
    await eventually(() => onB.events.length === 1, 'B streams what A changes');
    assert.equal((await a.admin.delete('/keys/roaming')).status, 200);
    await eventually(() => onB.ended(), "B ends the revoked key's stream", ENDS_WITHIN_MS);
    assertEndedWith(onB, 'credential_revoked', /"roaming" was revoked/);
    assert.deepEqual(onB.events.map((e) => e.event), ['version.created', 'credential_revoked']);
  });
});
