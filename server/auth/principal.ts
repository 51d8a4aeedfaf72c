import { forbidden } from '../errors.js';

/** The caller a request acts as: the name recorded as created_by / deployed_by. */
export interface Principal {
  name: string;
  /**
   * The person behind the credential: a key's owner (else its name), a
   * token's email (else its subject). Approvals compare people, so one person
   * with two keys cannot approve their own request.
   */
  person: string;
  scopes: readonly string[];
  /** Which credential was used, for the audit log: `key:<id>`, or `oidc:<subject>` for a bearer token. */
  credential: string;
  /** When the credential stops working (a key's expiry, a token's exp); null: never. */
  expiresAt?: string | null;
  /** For a bearer token: who the identity provider says this is. */
  oidc?: { issuer: string; subject: string; email: string | null; roles: string[] };
}

/** A scope is read, write, run, deploy, deploy:ENV, executions:read, executions:write or admin. */
export const SCOPE_PATTERN = /^(read|write|run|admin|executions:(read|write)|deploy(:[a-z0-9][a-z0-9_-]{0,49})?)$/;

/** For messages that list the scopes a person can give. */
export const SCOPE_LIST = 'read, write, run, deploy, deploy:ENV, executions:read, executions:write or admin';

/**
 * Whether `scopes` grant `required`. admin grants everything; any scope
 * grants read; deploy grants deploy:ENV for every environment; write grants
 * executions:write (logging) and run (running prompts on a provider). Only admin and executions:read itself grant
 * executions:read, the logged payloads (variables, rendered prompts, responses).
 */
export function grants(scopes: readonly string[], required: string): boolean {
  if (scopes.includes('admin')) return true;
  if (required === 'read') return scopes.length > 0;
  if (scopes.includes(required)) return true;
  if (required.startsWith('deploy:')) return scopes.includes('deploy');
  if (required === 'executions:write' || required === 'run') return scopes.includes('write');
  return false;
}

export function requireScope(principal: Principal, required: string): void {
  if (!grants(principal.scopes, required)) {
    // Name the broader scope that also grants it, so the message says every way to get there.
    const also = required === 'executions:write' || required === 'run' ? ' (or "write")' : required.startsWith('deploy:') ? ' (or "deploy")' : '';
    throw forbidden(`the credential "${principal.name}" lacks the scope "${required}"${also} (it has: ${principal.scopes.join(', ') || 'none'})`, {
      required_scope: required,
    });
  }
}
