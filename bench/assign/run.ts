/**
 * The rollout assignment per key (prints JSON): the clients' function (plain-JavaScript SHA-256,
 * shared/rollouts/assign.ts) beside the server's (node:crypto, server/rollouts/assign.ts), in µs
 * per key, alternating short rounds so drift on a shared machine hits both alike; the ratio
 * server / client per round, and its median. They give the same buckets (test/server/rollouts.test.ts).
 */
import { assignVariant as onClient } from '../../shared/rollouts/assign.js';
import { assignVariant as onServer } from '../../server/rollouts/assign.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ROLLOUT = { id: 'a5d0c3f2-3c1e-4b7a-9f0e-2d4c6b8a1e3f', weight: 30 };
const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}@example.com`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function perKey(assign: typeof onClient): { us: number; candidates: number } {
  let candidates = 0;
  const start = process.hrtime.bigint();
  for (const key of keys) if (assign('support-reply', 'production', ROLLOUT, key) === 'candidate') candidates++;
  return { us: Number(process.hrtime.bigint() - start) / 1000 / KEYS, candidates };
}

perKey(onClient);
perKey(onServer);
const client: number[] = [];
const server: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const c = perKey(onClient);
  const s = perKey(onServer);
  if (c.candidates !== s.candidates) throw new Error(`the two functions disagree: ${c.candidates} and ${s.candidates} candidates`);
  client.push(c.us);
  server.push(s.us);
  ratios.push(s.us / c.us);
}
const round3 = (n: number) => Math.round(n * 1000) / 1000;
console.log(
  JSON.stringify(
    {
      bench: 'rollout assignment per key',
      keys: KEYS,
      rounds: ROUNDS,
      client_plain_js_us: round3(median(client)),
      server_node_crypto_us: round3(median(server)),
      ratio_server_over_client: { median: round3(median(ratios)), min: round3(Math.min(...ratios)), max: round3(Math.max(...ratios)) },
    },
    null,
    2,
  ),
);
