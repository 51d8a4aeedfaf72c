import type { Queryable, Transaction } from '../db/index.js';
import { bool, json, nullableTimestamp, stringArray, timestamp } from '../db/values.js';

export interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  secret_encrypted: string;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
}

const WEBHOOK_COLUMNS = 'id, url, events, description, secret_encrypted, enabled, disabled_reason, created_at, created_by, updated_at';

function webhook(r: Record<string, unknown>): WebhookRow {
  return {
    id: String(r.id),
    url: String(r.url),
    events: stringArray(r.events),
    description: (r.description as string | null) ?? null,
    secret_encrypted: String(r.secret_encrypted),
    enabled: bool(r.enabled),
    disabled_reason: (r.disabled_reason as string | null) ?? null,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    updated_at: timestamp(r.updated_at),
  };
}

export async function insertWebhook(
  tx: Transaction,
  w: { url: string; events: string[]; description: string | null; secretEncrypted: string; enabled: boolean; createdBy: string },
): Promise<WebhookRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO webhooks (url, events, description, secret_encrypted, enabled, created_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${WEBHOOK_COLUMNS}`,
    [w.url, tx.sql.list(w.events), w.description, w.secretEncrypted, w.enabled, w.createdBy],
  );
  return webhook(row!);
}

export async function findWebhook(db: Queryable, id: string): Promise<WebhookRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [id]);
  return row && webhook(row);
}

export async function lockWebhook(tx: Transaction, id: string): Promise<WebhookRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1${tx.sql.forUpdate}`, [id]);
  return row && webhook(row);
}

export async function listWebhooks(db: Queryable, f: { after?: string | undefined; limit: number }): Promise<WebhookRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
    [f.after ?? null, f.limit],
  );
  return rows.map(webhook);
}

export async function updateWebhook(
  tx: Transaction,
  id: string,
  w: { url: string; events: string[]; description: string | null; secretEncrypted: string; enabled: boolean; disabledReason: string | null; at: string },
): Promise<WebhookRow> {
  const row = await tx.get<Record<string, unknown>>(
    `UPDATE webhooks SET url = $2, events = $3, description = $4, secret_encrypted = $5, enabled = $6, disabled_reason = $7, updated_at = $8
      WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
    [id, w.url, tx.sql.list(w.events), w.description, w.secretEncrypted, w.enabled, w.disabledReason, w.at],
  );
  return webhook(row!);
}

export async function deleteWebhook(tx: Transaction, id: string): Promise<boolean> {
  return (await tx.run('DELETE FROM webhooks WHERE id = $1', [id])) > 0;
}

/** The enabled webhooks and what each subscribes to: few rows, filtered by the caller. */
export async function enabledSubscriptions(db: Queryable): Promise<Array<{ id: string; events: string[] }>> {
  const rows = await db.all<Record<string, unknown>>('SELECT id, events FROM webhooks WHERE enabled');
  return rows.map((r) => ({ id: String(r.id), events: stringArray(r.events) }));
}

export async function insertDelivery(tx: Transaction, d: { id: string; webhookId: string; type: string; payload: string; createdAt: string }): Promise<void> {
  await tx.run(
    `INSERT INTO webhook_deliveries (id, webhook_id, event_type, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)`,
    [d.id, d.webhookId, d.type, d.payload, d.createdAt],
  );
}

export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  event_type: string;
  payload: string;
  /** This attempt's number (the claim counted it). */
  attempts: number;
  url: string;
  secret_encrypted: string;
}

/**
 * Takes up to `limit` due deliveries: counts their attempt and moves their due time to `leaseUntil`,
 * so no other worker takes them meanwhile, and a worker that dies mid-delivery leaves them due again
 * then. On Postgres, rows another replica is claiming are skipped, not waited for.
 */
export async function claimDue(tx: Transaction, now: string, leaseUntil: string, limit: number): Promise<ClaimedDelivery[]> {
  const claimed = await tx.all<Record<string, unknown>>(
    `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2
      WHERE id IN (
        SELECT d.id FROM webhook_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1
           AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled)
         ORDER BY d.next_attempt_at LIMIT $3${tx.sql.forUpdateSkipLocked('d')})
      RETURNING id, webhook_id, event_type, payload, attempts`,
    [now, leaseUntil, limit],
  );
  if (claimed.length === 0) return [];
  const ids = [...new Set(claimed.map((r) => String(r.webhook_id)))];
  const hooks = await tx.all<Record<string, unknown>>(`SELECT id, url, secret_encrypted FROM webhooks WHERE ${tx.sql.inList('id', 1, 'uuid')}`, [tx.sql.list(ids)]);
  const byId = new Map(hooks.map((h) => [String(h.id), h]));
  return claimed.map((r) => {
    const h = byId.get(String(r.webhook_id))!;
    return {
      id: String(r.id),
      webhook_id: String(r.webhook_id),
      event_type: String(r.event_type),
      payload: String(r.payload),
      attempts: Number(r.attempts),
      url: String(h.url),
      secret_encrypted: String(h.secret_encrypted),
    };
  });
}

/** When the next pending delivery falls due (the worker sleeps until then, or its poll interval). */
export async function nextDue(db: Queryable): Promise<string | null> {
  const row = await db.get<{ due: unknown }>(
    `SELECT MIN(d.next_attempt_at) AS due FROM webhook_deliveries d
      WHERE d.status = 'pending' AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled)`,
  );
  return nullableTimestamp(row?.due);
}

/** The outbox's backlog for the operator metrics: deliveries waiting to be sent (to enabled webhooks), and when the oldest was queued. */
export async function outboxDepth(db: Queryable): Promise<{ pending: number; oldestAt: string | null }> {
  const row = await db.get<{ pending: unknown; oldest: unknown }>(
    `SELECT COUNT(*) AS pending, MIN(d.created_at) AS oldest FROM webhook_deliveries d
      WHERE d.status = 'pending' AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled)`,
  );
  return { pending: Number(row?.pending ?? 0), oldestAt: nullableTimestamp(row?.oldest) };
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  at: string;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** What the delivery becomes: succeeded, failed (no retries left), or pending until nextAttemptAt. */
  status: 'succeeded' | 'failed' | 'pending';
  nextAttemptAt: string | null;
}

/**
 * Logs an attempt and records its outcome on the delivery, unless the delivery moved on meanwhile
 * (another worker took it after this one's lease ran out): the log keeps both attempts either way.
 */
export async function recordAttempt(tx: Transaction, a: AttemptRecord): Promise<void> {
  await tx.run(
    `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, duration_ms, error, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [a.deliveryId, a.attempt, a.at, a.statusCode, a.durationMs, a.error, a.nextAttemptAt],
  );
  await tx.run(
    `UPDATE webhook_deliveries
        SET status = $3::text, next_attempt_at = $4, last_attempt_at = $5::timestamptz, last_status_code = $6, last_error = $7,
            delivered_at = CASE WHEN $3::text = 'succeeded' THEN $5::timestamptz ELSE delivered_at END
      WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
    [a.deliveryId, a.attempt, a.status, a.nextAttemptAt, a.at, a.statusCode, a.error],
  );
}

/** The receiver answered 410 Gone: the webhook is turned off, its pending deliveries wait. */
export async function disableWebhook(tx: Transaction, id: string, reason: string, at: string): Promise<void> {
  await tx.run('UPDATE webhooks SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1', [id, false, reason, at]);
}

export interface DeliveryRow {
  id: string;
  event_type: string;
  payload: unknown;
  created_at: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

const DELIVERY_COLUMNS = 'id, event_type, payload, created_at, status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at';

function delivery(r: Record<string, unknown>): DeliveryRow {
  return {
    id: String(r.id),
    event_type: String(r.event_type),
    payload: json(r.payload),
    created_at: timestamp(r.created_at),
    status: r.status as DeliveryRow['status'],
    attempts: Number(r.attempts),
    next_attempt_at: nullableTimestamp(r.next_attempt_at),
    last_attempt_at: nullableTimestamp(r.last_attempt_at),
    last_status_code: r.last_status_code === null || r.last_status_code === undefined ? null : Number(r.last_status_code),
    last_error: (r.last_error as string | null) ?? null,
    delivered_at: nullableTimestamp(r.delivered_at),
  };
}

export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  f: { status?: string | undefined; before?: readonly [string, string] | undefined; limit: number },
): Promise<DeliveryRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
      WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2::text)
        AND ($3::timestamptz IS NULL OR created_at < $3::timestamptz OR (created_at = $3::timestamptz AND id < $4::text))
      ORDER BY created_at DESC, id DESC LIMIT $5`,
    [webhookId, f.status ?? null, f.before?.[0] ?? null, f.before?.[1] ?? null, f.limit],
  );
  return rows.map(delivery);
}

export async function findDelivery(db: Queryable, webhookId: string, id: string): Promise<DeliveryRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2`, [webhookId, id]);
  return row && delivery(row);
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  next_attempt_at: string | null;
}

export async function attemptsOf(db: Queryable, deliveryIds: readonly string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const rows = await db.all<Record<string, unknown>>(
    `SELECT delivery_id, attempt, attempted_at, status_code, duration_ms, error, next_attempt_at FROM webhook_attempts WHERE ${db.sql.inList('delivery_id', 1, 'text')} ORDER BY id`,
    [db.sql.list(deliveryIds)],
  );
  return rows.map((r) => ({
    delivery_id: String(r.delivery_id),
    attempt: Number(r.attempt),
    attempted_at: timestamp(r.attempted_at),
    status_code: r.status_code === null || r.status_code === undefined ? null : Number(r.status_code),
    duration_ms: Number(r.duration_ms),
    error: (r.error as string | null) ?? null,
    next_attempt_at: nullableTimestamp(r.next_attempt_at),
  }));
}

/** Makes a delivery due now (pending again if it had finished), keeping its id. */
export async function redeliver(tx: Transaction, webhookId: string, id: string, now: string): Promise<boolean> {
  return (await tx.run(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3 WHERE webhook_id = $1 AND id = $2`, [webhookId, id, now])) > 0;
}
