import type { Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { FailedAuthLimiter } from '../auth/failures.js';
import type { OidcVerifier } from '../auth/oidc.js';
import { rateLimitMessage, type CredentialRateLimiter } from '../auth/rate-limit.js';
import type { Principal } from '../auth/principal.js';
import { AppError, rateLimited, unauthorized } from '../errors.js';
import type { KeyService } from '../keys/service.js';

export interface Authenticator {
  /** Who sent the request: X-API-Key, else `Authorization: Bearer <JWT>`; a 401 (or 429 after many failures) without a valid one. */
  authenticate(req: Request, res: Response): Promise<Principal>;
  /** A credential verified lately, without any I/O (the resolve fast path). */
  cached(req: IncomingMessage): Principal | undefined;
  /** Counts a request against the credential's rate: undefined when it may go ahead, else the seconds to wait. */
  overRate(principal: Principal): number | undefined;
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i;

export function authenticator(keys: KeyService, oidc: OidcVerifier | undefined, limiter: FailedAuthLimiter, rate: CredentialRateLimiter, logger: Logger): Authenticator {
  const challenge = oidc ? 'Bearer realm="prompt-registry"' : undefined;
  const limited = (address: string, failures: number) =>
    logger.warn({ address, failures, window_s: limiter.windowMs / 1000 }, 'failed authentications over the limit; answering 429 to this address');

  async function identify(req: Request): Promise<Principal> {
    const key = header(req, 'x-api-key');
    if (key) {
      if (key.length > 200) throw unauthorized('the API key is not valid');
      const result = await keys.authenticate(key);
      if (result.principal) return result.principal;
      throw unauthorized(result.reason);
    }
    const authorization = header(req, 'authorization');
    if (authorization) {
      const m = BEARER.exec(authorization);
      if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"; API keys go in X-API-Key');
      if (!oidc) throw unauthorized('this registry accepts no bearer tokens (no OpenID Connect issuer is configured); send an API key in X-API-Key');
      if (m[1]!.length > 16_384) throw unauthorized('the bearer token is too long', { reason: 'invalid_token' });
      return oidc.verify(m[1]!);
    }
    throw unauthorized(oidc ? 'this route needs a credential: an API key in X-API-Key, or Authorization: Bearer <token> from your identity provider' : 'this route needs an API key in the X-API-Key header');
  }

  return {
    async authenticate(req, res) {
      let principal: Principal;
      try {
        principal = await identify(req);
      } catch (err) {
        if (!(err instanceof AppError) || err.kind !== 'unauthorized') throw err;
        const wait = limiter.fail(req.ip ?? req.socket.remoteAddress ?? 'unknown', Date.now(), limited);
        if (wait !== undefined) {
          throw rateLimited('too_many_failed_attempts', `too many failed authentications from this address; try again in ${wait} s`, wait);
        }
        if (challenge) res.setHeader('WWW-Authenticate', err.details.reason ? `${challenge}, error="invalid_token"` : challenge);
        throw err;
      }
      const wait = rate.take(principal.credential);
      if (wait !== undefined) throw rateLimited('rate_limited', rateLimitMessage(wait), wait);
      return principal;
    },
    overRate: (principal) => rate.take(principal.credential),
    cached(req) {
      const key = req.headers['x-api-key'];
      if (typeof key === 'string') return keys.cachedPrincipal(key);
      if (!oidc) return undefined;
      const m = BEARER.exec(req.headers.authorization ?? '');
      return m ? oidc.cachedPrincipal(m[1]!) : undefined;
    },
  };
}
