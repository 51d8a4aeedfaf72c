import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Transaction } from '../db/index.js';
import { invalid, notFound } from '../errors.js';
import type { ChangeEvent, ChangeFeed } from '../events.js';
import type { ServerSecret } from '../secret.js';
import { AddressPolicy } from './addresses.js';
import { payloadData, webhookEventOf } from './events.js';
import * as repo from './repository.js';
import type { DeliveryRow, WebhookRow } from './repository.js';
import type { CreateWebhookInput, PatchWebhookInput, deliverySchema, webhookSchema } from './schemas.js';
import { encryptSecret, generateSecret, messageId, secretKey } from './signing.js';
import { DeliveryWorker, type WebhookOptions } from './worker.js';
import type { z } from 'zod';

export type WebhookView = z.infer<typeof webhookSchema>;
export type DeliveryView = z.infer<typeof deliverySchema>;

function view(w: WebhookRow): WebhookView {
  return {
    id: w.id,
    url: w.url,
    events: w.events as WebhookView['events'], // checked against the list when stored
    description: w.description,
    enabled: w.enabled,
    disabled_reason: w.disabled_reason,
    created_at: w.created_at,
    created_by: w.created_by,
    updated_at: w.updated_at,
  };
}

const badUrl = (url: string, why: string) => invalid('invalid_webhook_url', `url "${url}" ${why}`, { field: 'url', url });

/**
 * Webhooks: registering them (admin), the outbox (a delivery per subscribed
 * webhook, written by the change feed inside the change's own transaction),
 * and the delivery worker that sends it.
 */
export class WebhookService {
  readonly worker: DeliveryWorker;
  private readonly policy: AddressPolicy;
  private readonly secretsKey: Buffer;

  constructor(
    private readonly db: Database,
    feed: ChangeFeed,
    secret: ServerSecret,
    options: WebhookOptions,
    logger: Logger,
  ) {
    this.policy = new AddressPolicy(options.allowedHosts);
    this.secretsKey = secret.derive('webhook-secret');
    this.worker = new DeliveryWorker(db, this.secretsKey, this.policy, options, logger);
    feed.withinTransaction((tx, change) => this.enqueue(tx, change));
    // Another replica's change may have queued deliveries: its notification wakes this worker too,
    // so the worker's own poll is only a slow fallback (retries due later are timed by the worker).
    feed.subscribe((change) => {
      if (webhookEventOf(change)) this.worker.wake();
    });
    feed.onResumed(() => this.worker.wake());
  }

  /**
   * Queues the change for every enabled webhook subscribed to it, inside the change's transaction:
   * a change that rolls back queues nothing, one that commits cannot lose its deliveries.
   */
  async enqueue(tx: Transaction, change: ChangeEvent): Promise<void> {
    const type = webhookEventOf(change);
    if (!type) return;
    const targets = (await repo.enabledSubscriptions(tx)).filter((w) => w.events.includes(type) || w.events.includes('*'));
    if (targets.length === 0) return;
    const payload = JSON.stringify({ type, timestamp: change.at, data: await payloadData(tx, type, change) });
    for (const w of targets) await repo.insertDelivery(tx, { id: messageId(), webhookId: w.id, type, payload, createdAt: change.at });
    tx.afterCommit(`webhook outbox: ${type}`, () => this.worker.wake());
  }

  /** Deliveries waiting in the outbox and the age of the oldest, in seconds (0 when none wait). */
  async outboxDepth(now = Date.now()): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const { pending, oldestAt } = await repo.outboxDepth(this.db);
    return { pending, oldestAgeSeconds: oldestAt === null ? 0 : Math.max(0, (now - Date.parse(oldestAt)) / 1000) };
  }

  /**
   * Refuses a URL that is not http(s), or whose host is (or resolves to) a loopback, private,
   * link-local, unspecified or multicast address, unless the allow-list names it. Delivery checks
   * the address again when it connects (a name can resolve elsewhere later).
   */
  async checkUrl(text: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw badUrl(text, 'is not a valid URL; give an absolute http(s) URL, e.g. https://hooks.example.com/prompt-registry');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badUrl(text, `has the scheme ${url.protocol.slice(0, -1)}; webhooks are sent over http or https only`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.policy.hostAllowed(host)) return;
    let addresses: string[];
    if (isIP(host)) {
      addresses = [host];
    } else {
      try {
        addresses = (await lookup(host, { all: true })).map((a) => a.address);
      } catch {
        throw badUrl(text, `names the host ${host}, which does not resolve`);
      }
    }
    for (const address of addresses) {
      const why = this.policy.refusal(address);
      if (why) {
        const via = address === host ? '' : ` (${host} resolves to ${address})`;
        throw badUrl(text, `points to a ${why} address${via}; webhooks may not go there unless PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS names the host or its range`);
      }
    }
  }

  private checkSecret(secret: string): void {
    const key = secretKey(secret);
    if (typeof key === 'string') throw invalid('invalid_webhook_secret', `secret: ${key}`, { field: 'secret' });
  }

  async create(actor: Principal, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
    await this.checkUrl(input.url);
    if (input.secret !== undefined) this.checkSecret(input.secret);
    const secret = input.secret ?? generateSecret();
    const events = [...new Set(input.events)];
    const row = await this.db.transaction(async (tx) => {
      const created = await repo.insertWebhook(tx, {
        url: input.url,
        events,
        description: input.description ?? null,
        secretEncrypted: encryptSecret(this.secretsKey, secret),
        enabled: input.enabled ?? true,
        createdBy: actor.name,
      });
      await recordAudit(tx, actor, { action: 'webhook.created', targetId: created.id, details: { url: created.url, events, description: created.description, enabled: created.enabled } });
      return created;
    });
    return { ...view(row), secret };
  }

  private async require(id: string): Promise<WebhookRow> {
    const row = await repo.findWebhook(this.db, id);
    if (!row) throw notFound('webhook_not_found', `no webhook ${id}`, { id });
    return row;
  }

  async get(id: string): Promise<WebhookView> {
    return view(await this.require(id));
  }

  async list(f: { after?: string | undefined; limit: number }): Promise<WebhookView[]> {
    return (await repo.listWebhooks(this.db, f)).map(view);
  }

  async update(actor: Principal, id: string, patch: PatchWebhookInput): Promise<WebhookView> {
    if (patch.url !== undefined) await this.checkUrl(patch.url);
    if (patch.secret !== undefined) this.checkSecret(patch.secret);
    const row = await this.db.transaction(async (tx) => {
      const current = await repo.lockWebhook(tx, id);
      if (!current) throw notFound('webhook_not_found', `no webhook ${id}`, { id });
      const enabled = patch.enabled ?? current.enabled;
      const updated = await repo.updateWebhook(tx, id, {
        url: patch.url ?? current.url,
        events: patch.events ? [...new Set(patch.events)] : current.events,
        description: patch.description === undefined ? current.description : patch.description,
        secretEncrypted: patch.secret === undefined ? current.secret_encrypted : encryptSecret(this.secretsKey, patch.secret),
        enabled,
        // Turning it on again clears why the server had turned it off.
        disabledReason: enabled ? null : current.disabled_reason,
        at: new Date().toISOString(),
      });
      const { secret: _secret, ...changed } = patch;
      await recordAudit(tx, actor, { action: 'webhook.updated', targetId: id, details: { ...changed, secret_rotated: patch.secret !== undefined } });
      return updated;
    });
    if (row.enabled) this.worker.wake();
    return view(row);
  }

  async remove(actor: Principal, id: string): Promise<WebhookView> {
    return this.db.transaction(async (tx) => {
      const current = await repo.lockWebhook(tx, id);
      if (!current) throw notFound('webhook_not_found', `no webhook ${id}`, { id });
      await repo.deleteWebhook(tx, id);
      await recordAudit(tx, actor, { action: 'webhook.deleted', targetId: id, details: { url: current.url, events: current.events } });
      return view(current);
    });
  }

  private async deliveryViews(rows: DeliveryRow[]): Promise<DeliveryView[]> {
    const attempts = await repo.attemptsOf(this.db, rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      event: r.event_type as DeliveryView['event'],
      status: r.status,
      created_at: r.created_at,
      attempt_count: r.attempts,
      next_attempt_at: r.next_attempt_at,
      last_status_code: r.last_status_code,
      last_error: r.last_error,
      delivered_at: r.delivered_at,
      attempts: attempts.filter((a) => a.delivery_id === r.id).map(({ delivery_id: _id, ...a }) => a),
      payload: r.payload,
    }));
  }

  async deliveries(id: string, f: { status?: string | undefined; before?: readonly [string, string] | undefined; limit: number }): Promise<DeliveryView[]> {
    await this.require(id);
    return this.deliveryViews(await repo.listDeliveries(this.db, id, f));
  }

  /** Sends a delivery again now, with the same webhook-id (receivers deduplicate on it). */
  async redeliver(actor: Principal, id: string, deliveryId: string): Promise<DeliveryView> {
    await this.db.transaction(async (tx) => {
      if (!(await repo.lockWebhook(tx, id))) throw notFound('webhook_not_found', `no webhook ${id}`, { id });
      if (!(await repo.redeliver(tx, id, deliveryId, new Date().toISOString()))) {
        throw notFound('delivery_not_found', `webhook ${id} has no delivery ${deliveryId}`, { id, delivery: deliveryId });
      }
      await recordAudit(tx, actor, { action: 'webhook.redelivered', targetId: id, details: { delivery: deliveryId } });
      tx.afterCommit('webhook redelivery', () => this.worker.wake());
    });
    const row = await repo.findDelivery(this.db, id, deliveryId);
    return (await this.deliveryViews([row!]))[0]!;
  }
}
