import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`listing and searching prompts (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      const prompts: Array<[string, string, string[]]> = [
        ['support-reply', 'Answers support tickets', ['support', 'email']],
        ['support-triage', 'Sorts tickets by urgency', ['support']],
        ['sales-outreach', 'First email to a lead', ['sales', 'email']],
        ['summarise_100', 'Cuts 100% of the fluff', []],
        ['translate', 'Translates text', ['i18n']],
      ];
      for (const [name, description, tags] of prompts) {
        assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} {{x}}`, description, tags })).status, 201);
      }
      await s.admin.post('/prompts/translate/deployments', { version: 1, environment: 'production' });
    });
    after(() => s.close());

    const names = (r: { body: { items: Array<{ name: string }> } }) => r.body.items.map((p) => p.name);

    it('lists prompts by name with their latest version and live environments', async () => {
      const r = await s.admin.get('/prompts');
      assert.equal(r.status, 200);
      assert.deepEqual(names(r), ['sales-outreach', 'summarise_100', 'support-reply', 'support-triage', 'translate']);
      const t = r.body.items.find((p: { name: string }) => p.name === 'translate');
      assert.equal(t.latest_version, 1);
      assert.equal(t.environments.production.version, 1);
      assert.equal(r.body.next_cursor, null);
    });

    it('searches names and descriptions, case-insensitively, with LIKE wildcards taken literally', async () => {
      assert.deepEqual(names(await s.admin.get('/prompts?search=SUPPORT')), ['support-reply', 'support-triage']);
      assert.deepEqual(names(await s.admin.get('/prompts?search=tickets')), ['support-reply', 'support-triage']);
      assert.deepEqual(names(await s.admin.get('/prompts?search=100%25')), ['summarise_100']);
      assert.deepEqual(names(await s.admin.get('/prompts?search=_')), ['summarise_100']);
    });

    it('filters by tags (all given tags must match)', async () => {
      assert.deepEqual(names(await s.admin.get('/prompts?tag=email')), ['sales-outreach', 'support-reply']);
      assert.deepEqual(names(await s.admin.get('/prompts?tag=email&tag=support')), ['support-reply']);
      assert.deepEqual(names(await s.admin.get('/prompts?tag=none')), []);
    });

    it('filters by the environment a prompt is live in', async () => {
      assert.deepEqual(names(await s.admin.get('/prompts?environment=production')), ['translate']);
      assert.deepEqual(names(await s.admin.get('/prompts?environment=staging')), []);
      assert.equal((await s.admin.get('/prompts?environment=qa')).status, 400);
    });

    it('pages with a cursor until next_cursor is null', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: any = await s.admin.get(`/prompts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(r.body.items.length <= 2);
        seen.push(...names(r));
        cursor = r.body.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, ['sales-outreach', 'summarise_100', 'support-reply', 'support-triage', 'translate']);
    });

    it('lists the configured environments', async () => {
      const r = await s.admin.get('/environments');
      assert.deepEqual(r.body.items.map((e: { name: string }) => e.name), ['dev', 'staging', 'production']);
    });
  });
}
