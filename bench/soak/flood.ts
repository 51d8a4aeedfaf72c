/**
 * The soak bench's flooder, in a process of its own so its load never shares the victim's event
 * loop: `flood.ts URL KEY CONNECTIONS SECONDS PATH...` sends GETs with KEY over CONNECTIONS
 * keep-alive connections as fast as they answer, then prints the count of each status as JSON.
 */
import { Agent, request } from 'node:http';

const [url, key, connections, seconds, ...paths] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connections) });
const statuses: Record<string, number> = {};
const end = Date.now() + Number(seconds) * 1000;

function get(path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { agent, headers: { 'X-API-Key': key! } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (Date.now() < end) {
      const status = await get(paths[Math.floor(Math.random() * paths.length)]!);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }),
);
agent.destroy();
process.stdout.write(`${JSON.stringify(statuses)}\n`);
