/**
 * The baseline the resolve benchmark compares against: a plain Express 5 app
 * (defaults, no auth, no logging) answering GET /prompts/:name/latest from an
 * in-memory Map with res.json(obj). Run by bench/resolve/run.ts in its own
 * process:
 *
 *   node --import tsx bench/resolve/baseline.ts --port P --data answers.json
 *
 * answers.json is an object { name: answer }, the answers our server gave.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import express from 'express';

const { values } = parseArgs({ options: { port: { type: 'string' }, data: { type: 'string' } } });
if (!values.port || !values.data) {
  process.stderr.write('usage: baseline.ts --port P --data answers.json\n');
  process.exit(2);
}

const answers = new Map<string, unknown>(Object.entries(JSON.parse(readFileSync(values.data, 'utf8')) as Record<string, unknown>));

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
