import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { AddressPolicy } from './addresses.js';

/** What one attempt came to. */
export interface AttemptResult {
  /** The receiver's status code; null when none came (refused, timed out, connection failed). */
  statusCode: number | null;
  durationMs: number;
  /** Why it failed; null on a 2xx. */
  error: string | null;
  /** The receiver's Retry-After, in ms, when it sent one. */
  retryAfterMs?: number | undefined;
}

/** A host's address refused by the policy: never connected to. */
export class RefusedAddress extends Error {
  constructor(host: string, address: string, why: string) {
    super(`${host} resolves to ${address}, a ${why} address; add it to PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS to allow it`);
  }
}

/**
 * A DNS lookup that answers only addresses the policy permits, so the
 * connection goes to an address checked at that moment (a name that resolved
 * to a public address at registration and to a private one now is refused).
 */
function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const permitted = addresses.filter((a) => policy.refusal(a.address) === undefined);
      if (permitted.length === 0) {
        const first = addresses[0];
        return callback(Object.assign(new RefusedAddress(hostname, first?.address ?? '?', first ? policy.refusal(first.address)! : 'no'), { code: 'EREFUSED_ADDRESS' }), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, permitted);
      callback(null, permitted[0]!.address, permitted[0]!.family);
    });
  };
}

function retryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * POSTs one signed body. Redirects are not followed (a 3xx is a failure),
 * the address is checked against the policy at connection time, and the whole
 * exchange (connect, answer, body) must finish within `timeoutMs`.
 */
export function post(target: string, headers: Record<string, string>, body: string, opts: { timeoutMs: number; policy: AddressPolicy }): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return resolve({ statusCode: null, durationMs: 0, error: 'the webhook URL is not valid' });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const allowedByName = opts.policy.hostAllowed(host);
    if (!allowedByName && isIP(host)) {
      const why = opts.policy.refusal(host);
      if (why) return resolve({ statusCode: null, durationMs: 0, error: `refused: ${host} is a ${why} address; add it to PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS to allow it` });
    }
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = lib.request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        ...(allowedByName ? {} : { lookup: guardedLookup(opts.policy) }),
        ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // The answer's body means nothing to us; read it (bounded by the timeout) so the exchange completes.
        res.resume();
        res.on('end', () =>
          finish({
            statusCode: status,
            durationMs: elapsed(),
            error: status >= 200 && status < 300 ? null : status >= 300 && status < 400 ? `answered ${status} (redirects are not followed; register the final URL)` : `answered ${status}`,
            retryAfterMs: retryAfter(res.headers['retry-after']),
          }),
        );
        res.on('error', (err) => finish({ statusCode: status, durationMs: elapsed(), error: `the answer broke off: ${err.message}` }));
        res.on('close', () => finish({ statusCode: status, durationMs: elapsed(), error: 'the answer broke off before its end' }));
      },
    );
    const timer = setTimeout(() => {
      finish({ statusCode: null, durationMs: elapsed(), error: `no complete answer within ${opts.timeoutMs} ms` });
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ statusCode: null, durationMs: elapsed(), error: err instanceof RefusedAddress ? `refused: ${err.message}` : `${err.code ? `${err.code}: ` : ''}${err.message}` });
    });
    req.end(body);
  });
}
