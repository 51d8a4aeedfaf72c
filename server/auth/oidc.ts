import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError, unauthorized, unavailable } from '../errors.js';
import type { Principal } from './principal.js';

export interface OidcConfig {
  /** The issuer exactly as the provider's discovery document and tokens name it. */
  issuer: string;
  /** The `aud` a token must carry to be accepted here. */
  audience: string;
  /** The claim holding the user's groups or roles; a dotted path reaches nested claims (`realm_access.roles`). */
  rolesClaim: string;
  /** Claim value → scopes it grants. */
  roleMap: Record<string, string[]>;
  /** The public client an editor signs in with (device flow); only shown by GET /auth/config. */
  clientId?: string | undefined;
  /** The OAuth scopes a client asks for when it signs in; only shown by GET /auth/config. */
  scopes: string[];
  /** Accept an http:// issuer that is not on loopback. */
  allowInsecureHttp: boolean;
  /** Leeway for exp and nbf, in seconds. */
  clockToleranceSeconds: number;
  /** Least time between two JWKS fetches caused by an unknown key id. */
  jwksCooldownMs: number;
}

export const OIDC_DEFAULTS = {
  rolesClaim: 'groups',
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  clockToleranceSeconds: 30,
  jwksCooldownMs: 30_000,
};

/** Asymmetric algorithms only: never `none`, never HS* (whose "key" would be the public JWKS). */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** Refuses an issuer or JWKS address that would let anyone on the network swap the signing keys. */
export function checkIssuerUrl(value: string, allowInsecureHttp: boolean, what = 'the OpenID Connect issuer'): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} "${value}" is not a URL; use e.g. https://login.example.com/realms/main`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (LOOPBACK.test(url.hostname) || allowInsecureHttp)) return url;
  if (url.protocol === 'http:') {
    throw new Error(`${what} "${value}" uses http:// on a non-loopback address; use https://, or pass --oidc-allow-insecure-http (tests and local providers only)`);
  }
  throw new Error(`${what} "${value}" must be an https:// URL`);
}

export interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint?: string;
  authorization_endpoint?: string;
  device_authorization_endpoint?: string;
}

/** A claim by name, else by dotted path into nested objects. */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Roles as a list: an array of strings, or one string of space- or comma-separated names. */
export function rolesOf(payload: JWTPayload, claim: string): string[] {
  const value = claimAt(payload, claim);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

interface CachedToken {
  principal: Principal;
  expires: number;
}

/** Why a token was refused, in words a person can act on. */
function reason(err: unknown, audience: string, issuer: string): string | undefined {
  const e = err as { code?: unknown; claim?: unknown };
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'the bearer token has expired; sign in again';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'iss') return `the bearer token was not issued by ${issuer}`;
      if (e.claim === 'aud') return `the bearer token is not meant for this registry (its audience must include "${audience}")`;
      if (e.claim === 'nbf') return 'the bearer token is not valid yet (check the clocks)';
      return `the bearer token's "${String(e.claim)}" claim is not valid`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return `the bearer token's signing algorithm is not accepted (allowed: ${ALLOWED_ALGORITHMS.join(', ')})`;
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return `the bearer token is not signed by a key ${issuer} publishes`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'the bearer token signature is not valid';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'the bearer token is not a well-formed JWT';
    default:
      return undefined;
  }
}

/**
 * Verifies bearer JWTs against the issuer's discovery document and JWKS
 * (jose: an unknown key id refetches the JWKS, at most once per cooldown,
 * which follows key rotation without letting junk tokens hammer the provider).
 * Verified tokens are remembered until they expire (at most a minute), so the
 * resolve fast path can answer them as it answers known API keys.
 */
export class OidcVerifier {
  private discovery: Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }> | undefined;
  private discoveryFailedUntil = 0;
  private readonly verified = new Map<string, CachedToken>();

  constructor(
    readonly config: OidcConfig,
    private readonly cacheTtlMs = 60_000,
  ) {}

  /** The discovery document, fetched once (a failure is retried after a few seconds). */
  discover(): Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }> {
    if (this.discovery) return this.discovery;
    if (Date.now() < this.discoveryFailedUntil) {
      return Promise.reject(unavailable('identity_provider_unavailable', `the identity provider ${this.config.issuer} could not be reached; try again shortly`));
    }
    const pending = this.fetchDiscovery();
    this.discovery = pending;
    pending.catch(() => {
      this.discovery = undefined;
      this.discoveryFailedUntil = Date.now() + 5_000;
    });
    return pending;
  }

  private async fetchDiscovery(): Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }> {
    const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let doc: Discovery;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as Discovery;
    } catch {
      throw unavailable('identity_provider_unavailable', `the identity provider's discovery document ${url} could not be read; try again shortly`);
    }
    if (doc.issuer !== this.config.issuer) {
      // A mismatch is a configuration error, not an outage: say what to set.
      throw unavailable('identity_provider_misconfigured', `the discovery document names the issuer "${doc.issuer}", not "${this.config.issuer}"; set PROMPT_REGISTRY_OIDC_ISSUER to it`);
    }
    let jwksUri: URL;
    try {
      jwksUri = checkIssuerUrl(doc.jwks_uri, this.config.allowInsecureHttp, 'the JWKS address');
    } catch (err) {
      throw unavailable('identity_provider_misconfigured', (err as Error).message);
    }
    const jwks = createRemoteJWKSet(jwksUri, { cooldownDuration: this.config.jwksCooldownMs, timeoutDuration: 5_000 });
    return { doc, jwks };
  }

  /** A token verified lately, without verifying it again (the resolve fast path). */
  cachedPrincipal(token: string): Principal | undefined {
    const hit = this.verified.get(token);
    return hit && hit.expires > Date.now() ? hit.principal : undefined;
  }

  async verify(token: string): Promise<Principal> {
    const cached = this.cachedPrincipal(token);
    if (cached) return cached;
    const { jwks } = await this.discover();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ALLOWED_ALGORITHMS,
        clockTolerance: this.config.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof AppError) throw err;
      const why = reason(err, this.config.audience, this.config.issuer);
      if (why) throw unauthorized(why, { reason: 'invalid_token' });
      // Anything else is the JWKS being unreachable or unreadable: not the caller's fault.
      throw unavailable('identity_provider_unavailable', `the signing keys of ${this.config.issuer} could not be fetched; try again shortly`);
    }
    const principal = this.principalOf(payload);
    const expires = Math.min(Date.now() + this.cacheTtlMs, payload.exp! * 1000);
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, { principal, expires });
    return principal;
  }

  /** The person (email, unless marked unverified; else subject) and the scopes their roles map to. */
  principalOf(payload: JWTPayload): Principal {
    const subject = payload.sub!;
    // An address the provider says it has not verified could be anyone's: record the subject instead.
    const email = typeof payload.email === 'string' && payload.email && payload.email_verified !== false ? payload.email : null;
    const roles = rolesOf(payload, this.config.rolesClaim);
    const scopes = [...new Set(roles.flatMap((role) => this.config.roleMap[role] ?? []))];
    const name = (email ?? subject).slice(0, 255);
    return {
      name,
      person: name,
      scopes,
      credential: `oidc:${subject}`.slice(0, 255),
      expiresAt: new Date(payload.exp! * 1000).toISOString(),
      oidc: { issuer: this.config.issuer, subject, email, roles },
    };
  }
}
