/**
 * A stand-in for a registry that accepts sign-in tokens (this branch's server
 * doesn't yet): it answers the few calls the extension makes on connecting,
 * advertises an identity provider at GET /auth/config, takes any bearer
 * token or API key, and records which one each request carried.
 * Test controls: GET /_seen lists them; POST /_reject (body: a token) makes
 * the registry answer 401 to that token from then on.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoRegistry {
  url: string;
  /** `Bearer TOKEN` or `X-API-Key KEY` per request, in order. */
  seen: string[];
  close(): Promise<void>;
}

export async function startEchoRegistry(oidc: { issuer: string; client_id: string }): Promise<EchoRegistry> {
  const seen: string[] = [];
  const rejected = new Set<string>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/_seen') return json(200, seen);
    if (path === '/_reject') {
      let token = '';
      req.on('data', (c: Buffer) => (token += c.toString()));
      req.on('end', () => {
        rejected.add(token);
        json(204, {});
      });
      return;
    }
    if (path === '/auth/config') return json(200, { oidc });
    if (path === '/healthz') return json(200, { status: 'ok', version: 'stand-in', database: 'none' });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const key = req.headers['x-api-key'];
    seen.push(bearer ? `Bearer ${bearer}` : key ? `X-API-Key ${String(key)}` : 'none');
    if ((!bearer && !key) || (bearer && rejected.has(bearer))) return json(401, { error: { code: 'unauthorized', message: 'a valid credential is needed' } });
    if (path === '/environments') return json(200, { items: [{ name: 'dev' }], next_cursor: null });
    return json(200, { items: [], next_cursor: null });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
