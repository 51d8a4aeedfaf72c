import { forbidden } from '../errors.js';

/** The caller a request acts as: the name recorded as created_by / deployed_by. */
export interface Principal {
  name: string;
  scopes: readonly string[];
  /** Which credential was used, for the audit log: `key:<id>`, or `oidc:<subject>` for a bearer token. */
  credential: string;
  /** When the credential stops working (a key's expiry, a token's exp); null: never. */
  expiresAt?: string | null;
  /** For a bearer token: who the identity provider says this is. */
  oidc?: { issuer: string; subject: string; email: string | null; roles: string[] };
}

export const BASE_SCOPES = ['read', 'write', 'deploy', 'admin'] as const;

/** A scope is read, write, deploy, deploy:ENV or admin. */
export const SCOPE_PATTERN = /^(read|write|admin|deploy(:[a-z0-9][a-z0-9_-]{0,49})?)$/;

/**
 * Whether `scopes` grant `required`. admin grants everything; any scope
 * grants read; deploy grants deploy:ENV for every environment.
 */
export function grants(scopes: readonly string[], required: string): boolean {
  if (scopes.includes('admin')) return true;
  if (required === 'read') return scopes.length > 0;
  if (scopes.includes(required)) return true;
  if (required.startsWith('deploy:')) return scopes.includes('deploy');
  return false;
}

export function requireScope(principal: Principal, required: string): void {
  if (!grants(principal.scopes, required)) {
    throw forbidden(`the credential "${principal.name}" lacks the scope "${required}" (it has: ${principal.scopes.join(', ') || 'none'})`, {
      required_scope: required,
    });
  }
}
