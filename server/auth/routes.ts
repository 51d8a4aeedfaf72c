import { z } from 'zod';
import type { EnvironmentService } from '../environments/service.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema } from '../http/schemas.js';
import type { OidcVerifier } from './oidc.js';
import { grants } from './principal.js';

const authConfigSchema = z.object({
  api_key: z.object({ header: z.literal('X-API-Key') }),
  oidc: z
    .object({
      issuer: z.string(),
      audience: z.string(),
      client_id: z.string().nullable(),
      scopes: z.array(z.string()),
      roles_claim: z.string(),
      authorization_endpoint: z.string().nullable(),
      token_endpoint: z.string().nullable(),
      device_authorization_endpoint: z.string().nullable(),
    })
    .nullable(),
});

const meSchema = z.object({
  name: z.string(),
  person: z.string().describe("Who approvals take the caller to be: a key's owner (else its name), a token's email (else its subject)"),
  kind: z.enum(['api_key', 'oidc', 'other']),
  credential: z.string(),
  scopes: z.array(z.string()),
  expires_at: z.string().nullable(),
  oidc: z.object({ issuer: z.string(), subject: z.string(), email: z.string().nullable(), roles: z.array(z.string()) }).nullable(),
  can: z.object({
    read: z.boolean(),
    write: z.boolean(),
    admin: z.boolean(),
    log_executions: z.boolean(),
    read_execution_payloads: z.boolean(),
    deploy: z.record(z.string(), z.object({ allowed: z.boolean(), needs_approval: z.boolean(), required_approvals: z.number().int() })),
  }),
}).meta({ id: 'Me' });

export function authRoutes(oidc: OidcVerifier | undefined, environments: EnvironmentService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/auth/config',
      summary: 'How to sign in (no credential needed): the OpenID Connect issuer, audience and client id for a device-flow sign-in, or null when only API keys work',
      tag: 'auth',
      scope: 'none',
      responses: {
        200: { description: 'Sign-in settings', schema: authConfigSchema },
        503: { description: 'The identity provider could not be reached', schema: errorSchema },
      },
      async handler() {
        if (!oidc) return { api_key: { header: 'X-API-Key' }, oidc: null };
        const { doc } = await oidc.discover();
        const c = oidc.config;
        return {
          api_key: { header: 'X-API-Key' },
          oidc: {
            issuer: c.issuer,
            audience: c.audience,
            client_id: c.clientId ?? null,
            scopes: c.scopes,
            roles_claim: c.rolesClaim,
            authorization_endpoint: doc.authorization_endpoint ?? null,
            token_endpoint: doc.token_endpoint ?? null,
            device_authorization_endpoint: doc.device_authorization_endpoint ?? null,
          },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/me',
      summary: 'Who the caller is (API key or signed-in person), its scopes, and what it may do in each environment',
      tag: 'auth',
      scope: 'authenticated',
      responses: { 200: { description: 'The caller', schema: meSchema } },
      async handler(_input, { principal }) {
        const deploy: Record<string, { allowed: boolean; needs_approval: boolean; required_approvals: number }> = {};
        for (const policy of await environments.list()) {
          deploy[policy.environment] = {
            allowed: environments.mayDeploy(principal, policy),
            needs_approval: policy.required_approvals > 0,
            required_approvals: policy.required_approvals,
          };
        }
        return {
          name: principal.name,
          person: principal.person,
          kind: principal.oidc ? 'oidc' : principal.credential.startsWith('key:') ? 'api_key' : 'other',
          credential: principal.credential,
          scopes: principal.scopes,
          expires_at: principal.expiresAt ?? null,
          oidc: principal.oidc ?? null,
          can: {
            read: grants(principal.scopes, 'read'),
            write: grants(principal.scopes, 'write'),
            admin: grants(principal.scopes, 'admin'),
            log_executions: grants(principal.scopes, 'executions:write'),
            read_execution_payloads: grants(principal.scopes, 'executions:read'),
            deploy,
          },
        };
      },
    }),
  ];
}
