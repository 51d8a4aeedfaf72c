import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/wait.js';
import { freePort, killGroup, run, start, waitForHealthy, type Spawned } from '../support/process.js';

const CLI = ['--import', 'tsx', 'server/cli.ts'];

for (const dialect of DIALECTS) {
  describe(`CLI and running (${dialect})`, () => {
    let db: TestDatabase;
    // The server and the key commands share a data directory, and so the server secret in it.
    let dataDir: string;
    const procs: Spawned[] = [];
    const env = (more: Record<string, string | undefined> = {}) => ({ PROMPT_REGISTRY_DATA_DIR: dataDir, PROMPT_REGISTRY_SECRET: '', PROMPT_REGISTRY_SECRET_FILE: '', ...more });
    const cli = (args: string[], more: Record<string, string | undefined> = {}) => run(process.execPath, [...CLI, ...args], env(more));
    before(async () => {
      db = await freshDatabase(dialect);
      dataDir = mkdtempSync(join(tmpdir(), 'prompt-registry-cli-'));
    });
    after(async () => {
      for (const p of procs) killGroup(p);
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('`npm start -- --port P --db URL` serves /healthz, writes a first admin key to an owner-only file (never the log stream), and exits cleanly on SIGTERM', async () => {
      const port = await freePort();
      const server = start('npm', ['start', '--', '--port', String(port), '--db', db.url], env({ PROMPT_REGISTRY_ADMIN_KEY: '' }));
      procs.push(server);
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, server);
      const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; database: string };
      assert.equal(health.status, 'ok');
      assert.equal(health.database, dialect);

      // No terminal here (stdout and stderr are pipes): the key goes to a file whose path is logged.
      await eventually(() => server.output().includes('first admin API key'), 'the first admin key is announced', 15_000);
      const logged = server
        .output()
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as { msg?: string; path?: string }];
          } catch {
            return [];
          }
        })
        .find((entry) => entry.msg?.includes('first admin API key'));
      assert.ok(logged?.path, `the key file's path is logged:\n${server.output()}`);
      assert.equal(logged.path, join(dataDir, 'first-admin-key'));
      const key = readFileSync(logged.path, 'utf8').trim();
      assert.match(key, /^pr_[A-Za-z0-9_-]{40,}$/);
      assert.ok(!server.output().includes(key), 'the key is in neither stdout nor stderr');
      assert.ok(!server.output().includes(key.slice(3, 13)), 'nor any part of it');
      if (process.platform !== 'win32') {
        assert.equal(statSync(logged.path).mode & 0o777, 0o600);
        assert.equal(statSync(join(dataDir, 'server-secret')).mode & 0o777, 0o600, 'the generated server secret is owner-only too');
      }
      const prompts = await fetch(`http://127.0.0.1:${port}/prompts`, { headers: { 'X-API-Key': key } });
      assert.equal(prompts.status, 200);

      // npm itself ends by the signal; the server's own exit code is checked below, without npm.
      process.kill(-server.child.pid!, 'SIGTERM');
      await server.exited;
      assert.match(server.output(), /shutting down/);

      // A second start finds the key and prints none.
      const again = start(process.execPath, [...CLI, 'serve', '--port', String(port), '--db', db.url], env({ PROMPT_REGISTRY_ADMIN_KEY: '' }));
      procs.push(again);
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, again);
      assert.doesNotMatch(again.output(), /first admin API key/);
      process.kill(-again.child.pid!, 'SIGTERM');
      assert.equal(await again.exited, 0);
    });

    it('creates keys that expire, and refuses an unsafe OpenID Connect issuer at start-up', async () => {
      const created = await cli(['keys', 'create', '--name', 'week-bot', '--scopes', 'read', '--expires-in-days', '7', '--json', '--db', db.url]);
      assert.equal(created.code, 0, created.output);
      const key = JSON.parse(created.output.trim().split('\n').pop()!) as { expires_at: string };
      const days = (Date.parse(key.expires_at) - Date.now()) / 86_400_000;
      assert.ok(days > 6.9 && days <= 7, `expires in ${days} days`);
      const bad = await cli(['keys', 'create', '--name', 'x', '--scopes', 'read', '--expires-in-days', 'soon', '--db', db.url]);
      assert.equal(bad.code, 1);
      assert.match(bad.output, /--expires-in-days/);

      const refused = await cli(['serve', '--port', '0', '--db', db.url], {
        PROMPT_REGISTRY_OIDC_ISSUER: 'http://idp.example.com/realms/main',
        PROMPT_REGISTRY_OIDC_AUDIENCE: 'prompt-registry',
      });
      assert.equal(refused.code, 1);
      assert.match(refused.output, /http:\/\/ on a non-loopback address; use https:\/\//);
      const noMap = await cli(['serve', '--port', '0', '--db', db.url, '--oidc-issuer', 'https://idp.example.com', '--oidc-audience', 'a', '--oidc-role-map', '{"x":"admin"}']);
      assert.equal(noMap.code, 1);
      assert.match(noMap.output, /must map to a list of scopes/);
    });

    it('creates, lists and revokes keys with `keys create|list|revoke`', async () => {
      const created = await cli(['keys', 'create', '--name', 'ci-bot', '--owner', 'ann@example.com', '--scopes', 'read,deploy:staging', '--db', db.url]);
      assert.equal(created.code, 0, created.output);
      const key = /^(pr_[A-Za-z0-9_-]+)$/m.exec(created.output)?.[1];
      assert.ok(key);

      const listed = await cli(['keys', 'list', '--json', '--db', db.url]);
      assert.equal(listed.code, 0, listed.output);
      const keys = JSON.parse(listed.output.trim().split('\n').pop()!) as Array<{ name: string; owner: string | null; scopes: string[] }>;
      const bot = keys.find((k) => k.name === 'ci-bot');
      assert.deepEqual(bot?.scopes, ['read', 'deploy:staging']);
      assert.equal(bot?.owner, 'ann@example.com');
      assert.ok(!listed.output.includes(key));

      const bad = await cli(['keys', 'create', '--name', 'x', '--scopes', 'root', '--db', db.url]);
      assert.equal(bad.code, 1);
      assert.match(bad.output, /unknown scope "root"/);

      const revoked = await cli(['keys', 'revoke', 'ci-bot', '--db', db.url]);
      assert.equal(revoked.code, 0, revoked.output);
      const after = await cli(['keys', 'list', '--json', '--db', db.url]);
      assert.ok(!after.output.includes('"ci-bot"'));
    });

    it('says plainly what is wrong with a bad database URL or port', async () => {
      const url = await cli(['serve', '--db', 'mysql://nope']);
      assert.equal(url.code, 1);
      assert.match(url.output, /unsupported database URL/);
      const port = await cli(['serve', '--port', 'eighty', '--db', db.url]);
      assert.equal(port.code, 1);
      assert.match(port.output, /invalid port/);
    });
  });
}
