import type { ServerResponse } from 'node:http';

/**
 * Headers every answer carries, JSON API or not: nothing here is meant to be
 * framed, sniffed, run as a page or sent on as a referrer. Fixed strings set
 * in one loop, so the resolve fast path pays a few hundred nanoseconds, not a
 * middleware. HSTS only matters over HTTPS (a TLS proxy in front), and
 * browsers ignore it over plain HTTP.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
];

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
}
