import type { z } from 'zod';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { ServerSecret } from '../secret.js';
import { decryptSecret, encryptSecret } from '../webhooks/signing.js';
import { DEFAULT_PROVIDER_CALL_OPTIONS, type ProviderCallOptions, type ProviderTarget } from './client.js';
import * as repo from './repository.js';
import type { ProviderRow } from './repository.js';
import type { CreateProviderInput, PatchProviderInput, Prices, providerSchema } from './schemas.js';
import type { Usage } from './wire.js';

export type ProviderView = z.infer<typeof providerSchema>;

/** Never the key: only whether there is one. */
function view(p: ProviderRow): ProviderView {
  return {
    id: p.id,
    name: p.name,
    kind: p.kind,
    base_url: p.base_url,
    has_api_key: p.api_key_encrypted !== null,
    default_model: p.default_model,
    headers: p.headers,
    prices: p.prices,
    created_at: p.created_at,
    created_by: p.created_by,
    updated_at: p.updated_at,
  };
}

/** What the audit log keeps of a change: never the key, only that it changed. */
function auditDetails(input: Partial<CreateProviderInput>): Record<string, unknown> {
  const { api_key, ...rest } = input;
  return { ...rest, ...(api_key !== undefined ? { api_key_changed: true, api_key_removed: api_key === null } : {}) };
}

/** USD for the tokens at the model's price; null when the provider prices no such model or a count is unknown. */
export function costOf(prices: Prices, model: string, usage: Usage): number | null {
  const price = prices[model];
  if (!price || usage.input_tokens === null || usage.output_tokens === null) return null;
  const cost = (usage.input_tokens * price.input_per_million + usage.output_tokens * price.output_per_million) / 1_000_000;
  return Math.round(cost * 1e10) / 1e10;
}

export const providerNotFound = (name: string) =>
  notFound('provider_not_found', `no provider named "${name}"; an admin adds one with POST /providers`, { provider: name });

/**
 * Model providers (admin): their settings and API keys, the keys encrypted
 * (AES-256-GCM) under a key derived from the server secret for this purpose.
 */
export class ProviderService {
  private readonly key: Buffer;

  constructor(
    private readonly db: Database,
    secret: ServerSecret,
    readonly callOptions: ProviderCallOptions = DEFAULT_PROVIDER_CALL_OPTIONS,
  ) {
    this.key = secret.derive('provider-key');
  }

  async create(actor: Principal, input: CreateProviderInput): Promise<ProviderView> {
    return this.db.transaction(async (tx) => {
      if (await repo.findProvider(tx, input.name)) {
        throw conflict('provider_exists', `a provider named "${input.name}" exists already; change it with PATCH /providers/${input.name}`, { provider: input.name });
      }
      const row = await repo.insertProvider(tx, {
        name: input.name,
        kind: input.kind,
        base_url: input.base_url ?? null,
        api_key_encrypted: input.api_key ? encryptSecret(this.key, input.api_key) : null,
        default_model: input.default_model ?? null,
        headers: input.headers ?? {},
        prices: input.prices ?? {},
        createdBy: actor.name,
      });
      await recordAudit(tx, actor, { action: 'provider.created', targetId: row.id, details: auditDetails(input) });
      return view(row);
    });
  }

  private async require(name: string): Promise<ProviderRow> {
    const row = await repo.findProvider(this.db, name);
    if (!row) throw providerNotFound(name);
    return row;
  }

  async get(name: string): Promise<ProviderView> {
    return view(await this.require(name));
  }

  async list(f: { after?: string | undefined; limit: number }): Promise<ProviderView[]> {
    return (await repo.listProviders(this.db, f)).map(view);
  }

  async update(actor: Principal, name: string, patch: PatchProviderInput): Promise<ProviderView> {
    return this.db.transaction(async (tx) => {
      const current = await repo.lockProvider(tx, name);
      if (!current) throw providerNotFound(name);
      const row = await repo.updateProvider(tx, name, {
        base_url: patch.base_url === undefined ? current.base_url : patch.base_url,
        api_key_encrypted: patch.api_key === undefined ? current.api_key_encrypted : patch.api_key === null ? null : encryptSecret(this.key, patch.api_key),
        default_model: patch.default_model === undefined ? current.default_model : patch.default_model,
        headers: patch.headers ?? current.headers,
        prices: patch.prices ?? current.prices,
        at: new Date().toISOString(),
      });
      await recordAudit(tx, actor, { action: 'provider.updated', targetId: row.id, details: auditDetails(patch) });
      return view(row);
    });
  }

  async remove(actor: Principal, name: string): Promise<ProviderView> {
    return this.db.transaction(async (tx) => {
      const current = await repo.lockProvider(tx, name);
      if (!current) throw providerNotFound(name);
      await repo.deleteProvider(tx, name);
      await recordAudit(tx, actor, { action: 'provider.deleted', targetId: current.id, details: { name, kind: current.kind } });
      return view(current);
    });
  }

  private decryptKey(row: ProviderRow): string {
    try {
      return decryptSecret(this.key, row.api_key_encrypted!);
    } catch {
      throw conflict(
        'provider_key_unreadable',
        `the API key of provider "${row.name}" cannot be decrypted with this server's secret (it was stored under another); an admin gives it again with PATCH /providers/${row.name}`,
        { provider: row.name },
      );
    }
  }

  /**
   * The provider a run calls, with its key decrypted: the named one, else the only
   * (first by name) one configured; a 400 when there is none.
   */
  async target(name: string | undefined): Promise<{ target: ProviderTarget; defaultModel: string | null; prices: Prices }> {
    const row = name !== undefined ? await repo.findProvider(this.db, name) : await repo.firstProvider(this.db);
    if (!row && name !== undefined) {
      throw invalid('unknown_provider', `provider: no provider named "${name}"; GET /providers lists them`, { field: 'provider', provider: name });
    }
    if (!row) throw invalid('no_provider', 'no provider is configured; an admin adds one with POST /providers, or name one with "provider"', { field: 'provider' });
    return {
      target: {
        name: row.name,
        kind: row.kind,
        baseUrl: row.base_url,
        apiKey: row.api_key_encrypted === null ? null : this.decryptKey(row),
        headers: row.headers,
      },
      defaultModel: row.default_model,
      prices: row.prices,
    };
  }
}
