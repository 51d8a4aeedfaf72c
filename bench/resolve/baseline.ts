/**
 * The baselines the resolve benchmark compares against, answering
 * GET /prompts/:name/latest from an in-memory Map, no auth, no logging:
 *   --kind bare     (the default) a bare node:http server sending the same
 *                   bytes our server sends, prepared once: the metal;
 *   --kind express  a plain Express 5 app (defaults) with res.json(obj).
 * Run by bench/resolve/run.ts in its own process:
 *
 *   node --import tsx bench/resolve/baseline.ts --port P --data answers.json [--kind bare|express]
 *
 * answers.json is an object { name: answer }, the answers our server gave.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import express from 'express';

const { values } = parseArgs({ options: { port: { type: 'string' }, data: { type: 'string' }, kind: { type: 'string', default: 'bare' } } });
if (!values.port || !values.data || (values.kind !== 'bare' && values.kind !== 'express')) {
  process.stderr.write('usage: baseline.ts --port P --data answers.json [--kind bare|express]\n');
  process.exit(2);
}

const answers = new Map<string, unknown>(Object.entries(JSON.parse(readFileSync(values.data, 'utf8')) as Record<string, unknown>));

if (values.kind === 'bare') {
  const bodies = new Map([...answers].map(([name, answer]) => [name, Buffer.from(JSON.stringify(answer))]));
  const LATEST = /^\/prompts\/([^/?]+)\/latest(?:\?|$)/;
  const server = createServer((req, res) => {
    const m = LATEST.exec(req.url ?? '');
    const body = m ? bodies.get(decodeURIComponent(m[1]!)) : req.url === '/healthz' ? Buffer.from('{"status":"ok"}') : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length }).end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(values.port), '127.0.0.1', () => process.stderr.write(`bare node:http baseline listening on ${values.port} with ${bodies.size} answers\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
} else {
  serveExpress();
}

function serveExpress(): void {
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/prompts/:name/latest', (req, res) => {
    const found = answers.get(req.params.name);
    if (found === undefined) {
      res.status(404).json({ error: { code: 'prompt_not_found', message: `no prompt named "${req.params.name}"` } });
      return;
    }
    res.json(found);
  });

  const server = app.listen(Number(values.port), '127.0.0.1', () => {
    process.stderr.write(`baseline listening on ${values.port} with ${answers.size} answers\n`);
  });
  server.keepAliveTimeout = 65_000; // as our server does
  process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
