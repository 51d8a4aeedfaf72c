import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { MockProvider } from '../support/mock-provider.js';
import { ROOT } from '../support/process.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `prompt-registry eval ...` as CI runs it, against the registry in the environment; `onStart` sees the child. */
function evalCli(args: string[], env: Record<string, string>, onStart?: (child: ChildProcess, stderr: () => string) => void): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'eval', ...args], {
      cwd: ROOT,
      env: { ...process.env, PROMPT_REGISTRY_URL: '', PROMPT_REGISTRY_API_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onStart?.(child, () => stderr);
  });
}

/** Answers N to "Q<N>", but "wrong" for multiples of 3: on items 1..6, exact_match passes 4 of 6. */
function answerer(mock: MockProvider, delayMs = 0): void {
  mock.respond = (call) => {
    const n = Number(/Q(\d+)/.exec(String(call.body.messages?.[0]?.content ?? ''))?.[1]);
    return { text: n % 3 === 0 ? 'wrong' : String(n), delayMs, usage: { input: 10, output: 1 } };
  };
}

const COMMON = ['--prompt', 'quiz', '--dataset', 'six', '--evaluator', 'exact_match', '--evaluator', 'regex:^\\d+$', '--provider', 'mock', '--poll-ms', '50'];

describe('prompt-registry eval: usage', () => {
  it('exits 2 naming the problem on a bad evaluator spec, a bad threshold, or neither --version nor --file', async () => {
    const env = { PROMPT_REGISTRY_URL: 'http://127.0.0.1:1', PROMPT_REGISTRY_API_KEY: 'k' };
    const badSpec = await evalCli(['--prompt', 'q', '--version', '1', '--dataset', 'd', '--evaluator', 'contains', '--evaluator', '{"type": ', '--min-pass-rate', '0.9'], env);
    assert.equal(badSpec.code, 2, badSpec.stderr);
    assert.match(badSpec.stderr, /--evaluator JSON: not JSON/);
    const badRate = await evalCli(['--prompt', 'q', '--version', '1', '--dataset', 'd', '--evaluator', 'exact_match', '--min-pass-rate', '90'], env);
    assert.equal(badRate.code, 2, badRate.stderr);
    assert.match(badRate.stderr, /--min-pass-rate "90": a number from 0 to 1/);
    const neither = await evalCli(['--prompt', 'q', '--dataset', 'd', '--evaluator', 'exact_match', '--min-pass-rate', '0.5'], env);
    assert.equal(neither.code, 2, neither.stderr);
    assert.match(neither.stderr, /give --version N \(with --prompt\) or --file PATH/);
  });
});

for (const dialect of DIALECTS) {
  describe(`prompt-registry eval (${dialect})`, () => {
    const mock = new MockProvider();
    let s: TestServer;
    let env: Record<string, string>;
    let dir: string;

    before(async () => {
      await mock.start();
      s = await startTestServer(dialect, { experiments: { leaseMs: 2_000, pollMs: 50, maxActive: 2 }, providerCalls: { timeoutMs: 5_000, maxRetries: 0, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 1_000 } });
      env = { PROMPT_REGISTRY_URL: s.url, PROMPT_REGISTRY_API_KEY: ADMIN_KEY };
      const a = s.admin;
      assert.equal((await a.post('/prompts/quiz/versions', { content: 'Q{{n}}', model: 'mock-1' })).status, 201);
      assert.equal((await a.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-x', prices: { 'mock-1': { input_per_million: 1, output_per_million: 2 } } })).status, 201);
      assert.equal((await a.post('/datasets', { name: 'six' })).status, 201);
      const items = Array.from({ length: 6 }, (_, i) => ({ input: { n: i + 1 }, expected: String(i + 1) }));
      assert.equal((await a.post('/datasets/six/items', { items })).status, 201);
      dir = mkdtempSync(join(tmpdir(), 'eval-cli-'));
    });
    after(async () => {
      await s?.close();
      await mock.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
      mock.reset();
      answerer(mock);
    });

    it('exits 0 when the pass rate meets the threshold, and prints the table', async () => {
      const r = await evalCli([...COMMON, '--version', '1', '--min-pass-rate', '0.6'], env);
      assert.equal(r.code, 0, r.stderr);
      const row = r.stdout.split('\n').find((l) => l.startsWith('v1'));
      assert.ok(row, r.stdout);
      // 6 items, 0 errors, 4 of 6 exact (66.7%); the regex passes on the 4 digit answers too; mean scores 0.667 each.
      assert.match(row!, /^v1\s+6\s+0\s+66\.7%\s+0\.667\s+0\.667\s+\d+ ms\s+\d+ ms\s+\$0\.0001\s+pass$/);
      assert.match(r.stdout, /exact_match\s+regex/);
      assert.match(r.stderr, /completed: 6\/6/);
      assert.equal(mock.calls.length, 6);
    });

    it('exits 1 when it fails the threshold; --json prints the experiment with its aggregates', async () => {
      const r = await evalCli([...COMMON, '--version', '1', '--min-pass-rate', '0.9', '--json', '--concurrency', '3'], env);
      assert.equal(r.code, 1, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.passed, false);
      assert.equal(out.min_pass_rate, 0.9);
      assert.equal(out.status, 'completed');
      assert.equal(out.concurrency, 3);
      assert.deepEqual(out.progress, { done: 6, total: 6 });
      assert.equal(out.aggregates[0].version, 1);
      assert.ok(Math.abs(out.aggregates[0].pass_rate - 4 / 6) < 1e-6, String(out.aggregates[0].pass_rate));
      assert.deepEqual(Object.keys(out.aggregates[0].mean_scores).sort(), ['exact_match', 'regex']);
      assert.match(r.stderr, /v1 below the minimum pass rate of 90\.0%/);
      // The experiment is the registry's: readable afterwards.
      assert.equal((await s.admin.get(`/experiments/${out.id}`)).body.status, 'completed');
    });

    it('evaluates a .prompt file as a draft in an experiment, an LLM judge included', async () => {
      const file = join(dir, 'quiz.prompt');
      writeFileSync(file, '---\nname: quiz\nmodel: mock-1\n---\nQ{{n}}\n');
      const pass = await evalCli(['--file', file, '--dataset', 'six', '--evaluator', 'exact_match', '--provider', 'mock', '--min-pass-rate', '0.5', '--json'], env);
      assert.equal(pass.code, 0, pass.stderr);
      const out = JSON.parse(pass.stdout);
      assert.equal(out.passed, true);
      assert.deepEqual([out.aggregates[0].version, out.aggregates[0].draft, out.drafts], [null, 'draft', ['draft']]);
      assert.equal(out.aggregates[0].pass_rate, Math.round((4 / 6) * 1e9) / 1e9);
      assert.equal(out.aggregates[0].input_tokens, 60);
      // The registry ran it: an experiment of the draft, each run logged as a draft run.
      assert.equal((await s.admin.get(`/experiments/${out.id}`)).body.status, 'completed');
      const results = (await s.admin.get(`/experiments/${out.id}/results?draft=draft`)).body.items;
      assert.equal(results.length, 6);
      const logged = await s.admin.get(`/executions/${results[0].execution_id}`);
      assert.deepEqual([logged.body.metadata.draft, logged.body.metadata.draft_label], [true, 'draft']);
      // An LLM judge works with --file now (a judge runs only inside experiments).
      assert.equal((await s.admin.post('/prompts/judge/versions', { content: 'Judge: output={{output}} expected={{expected}}', model: 'mock-1' })).status, 201);
      mock.respond = (call) => {
        const content = String(call.body.messages?.[0]?.content ?? '');
        const judged = /^Judge: output=(.*) expected=(.*)$/s.exec(content);
        if (judged) return { text: JSON.stringify({ score: judged[1] === judged[2] ? 1 : 0, reason: 'compared' }) };
        const n = Number(/Q(\d+)/.exec(content)?.[1]);
        return { text: n % 3 === 0 ? 'wrong' : String(n), usage: { input: 10, output: 1 } };
      };
      const judged = await evalCli(['--file', file, '--dataset', 'six', '--evaluator', 'llm_judge:judge', '--provider', 'mock', '--min-pass-rate', '0.5', '--json'], env);
      assert.equal(judged.code, 0, judged.stderr);
      assert.deepEqual(JSON.parse(judged.stdout).aggregates[0].mean_scores, { llm_judge: Math.round((4 / 6) * 1e9) / 1e9 });
      answerer(mock);
      const fail = await evalCli(['--file', file, '--dataset', 'six', '--evaluator', 'exact_match', '--provider', 'mock', '--min-pass-rate', '0.9'], env);
      assert.equal(fail.code, 1, fail.stderr);
      assert.match(fail.stdout, /^draft\s+6\s+0\s+66\.7%/m);
      assert.match(fail.stderr, /the draft below the minimum pass rate/);
      // A chat file runs as a chat draft.
      const chat = join(dir, 'quiz-chat.prompt');
      writeFileSync(chat, '---\nname: quiz\nmodel: mock-1\n---\n{{role "user"}}\nQ{{n}}\n');
      const chatRun = await evalCli(['--file', chat, '--dataset', 'six', '--evaluator', 'exact_match', '--provider', 'mock', '--min-pass-rate', '0.5', '--json'], env);
      assert.equal(chatRun.code, 0, chatRun.stderr);
      assert.equal(JSON.parse(chatRun.stdout).aggregates[0].pass_rate, Math.round((4 / 6) * 1e9) / 1e9);
      assert.equal(mock.calls.at(-1)!.body.messages[0].role, 'user');
      // A spec the registry refuses ends it before any run.
      mock.reset();
      const refused = await evalCli(['--file', file, '--dataset', 'six', '--evaluator', 'regex:(', '--provider', 'mock', '--min-pass-rate', '0.9'], env);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /pattern/);
      assert.equal(mock.calls.length, 0);
    });

    it('exits 1 with the registry\'s message when the request is refused (an unknown dataset)', async () => {
      const r = await evalCli(['--prompt', 'quiz', '--version', '1', '--dataset', 'nope', '--evaluator', 'exact_match', '--min-pass-rate', '0.5'], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /nope/);
    });

    it('Ctrl-C cancels the experiment and exits 130', async () => {
      answerer(mock, 60_000); // never answers while the test runs
      let sent = false;
      const r = await evalCli([...COMMON, '--version', '1', '--min-pass-rate', '0.5', '--concurrency', '1', '--json'], env, (child, stderr) => {
        void eventually(() => /running: 0\/6|started/.test(stderr()), 'the experiment started', 30_000).then(() => {
          sent = child.kill('SIGINT');
        });
      });
      assert.ok(sent);
      assert.equal(r.code, 130, r.stderr);
      const id = /experiment ([0-9a-f-]{36}) cancelled/.exec(r.stderr)?.[1];
      assert.ok(id, r.stderr);
      assert.equal((await s.admin.get(`/experiments/${id}`)).body.status, 'cancelled');
    });
  });
}
