import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RegistryEventType } from '../shared/contract/events.js';
import type { Database, Queryable, Transaction } from './db/index.js';

/** A committed change other parts (the resolve cache, event streams) react to. */
export interface ChangeEvent {
  /** What clients hear (shared/contract/events.ts), and key revocations, which stay inside the servers. */
  type: RegistryEventType | 'api_key.revoked';
  prompt?: string;
  environment?: string;
  version?: number;
  /** Deployment requests: which one, and its status now. */
  request_id?: string;
  status?: string;
  /** rollout.changed: which rollout, and its weight now (status: active, promoted, aborted or superseded). */
  rollout_id?: string;
  weight?: number;
  /** api_key.revoked: which key, so event streams opened with it end. */
  key_id?: string;
  at: string;
}

const CHANNEL = 'prompt_registry_changes';
/** Wake-ups for background workers: not changes (never streamed or sent to webhooks), so a channel of their own. */
const WAKE_CHANNEL = 'prompt_registry_wakeups';

/**
 * Tells a background worker, in this process and (on Postgres) in every replica, that work was
 * queued for it, so it need not poll the database to find out.
 */
export interface Wakeup {
  /** Wakes the listeners now, or once `tx` has committed (the work it queued is then visible). */
  notify(tx?: Transaction): Promise<void>;
  listen(listener: () => void): () => void;
}

/** A wake-up within this process alone (a service used without a change feed). */
export function localWakeup(): Wakeup {
  const emitter = new EventEmitter();
  return {
    notify: async (tx) => {
      if (tx) tx.afterCommit('wake-up', () => emitter.emit('wake'));
      else emitter.emit('wake');
    },
    listen: (listener) => {
      emitter.on('wake', listener);
      return () => emitter.off('wake', listener);
    },
  };
}

/**
 * Publishes changes once their transaction has committed: in this process
 * directly, and to other replicas through Postgres NOTIFY (which Postgres
 * delivers only on commit). Replicas ignore their own notifications.
 */
export class ChangeFeed {
  private readonly emitter = new EventEmitter();
  private readonly origin = randomUUID();
  private readonly inTransaction: Array<(tx: Transaction, event: ChangeEvent) => Promise<void>> = [];

  constructor(private readonly db: Database) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.db.listen(
      CHANNEL,
      (payload) => {
        try {
          const { origin, event } = JSON.parse(payload) as { origin: string; event: ChangeEvent };
          if (origin !== this.origin) this.emitter.emit('change', event);
        } catch {
          // A malformed notification is not ours to act on.
        }
      },
      () => this.emitter.emit('resumed'),
    );
    await this.db.listen(WAKE_CHANNEL, (payload) => {
      try {
        const { origin, name } = JSON.parse(payload) as { origin: string; name: string };
        if (origin !== this.origin && typeof name === 'string') this.emitter.emit(`wake:${name}`);
      } catch {
        // A malformed notification is not ours to act on.
      }
    });
  }

  /**
   * A named wake-up (`experiments`, ...): its listeners in this process and in the other replicas are
   * called when anyone notifies it. Missed ones (a lost connection) are for the workers' slow polls to catch.
   */
  wakeup(name: string): Wakeup {
    const event = `wake:${name}`;
    const message = JSON.stringify({ origin: this.origin, name });
    return {
      notify: async (tx) => {
        const on: Queryable = tx ?? this.db;
        if (on.dialect === 'postgres') await on.get('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, message]);
        if (tx) tx.afterCommit(`wake-up: ${name}`, () => this.emitter.emit(event));
        else this.emitter.emit(event);
      },
      listen: (listener) => {
        this.emitter.on(event, listener);
        return () => this.emitter.off(event, listener);
      },
    };
  }

  /** After a lost notification connection came back: other replicas' changes meanwhile were missed, so caches start over. */
  onResumed(listener: () => void): void {
    this.emitter.on('resumed', listener);
  }

  /**
   * Work that must commit or roll back with the change itself (the webhook outbox): runs inside the
   * change's transaction when it is published, before anything is told after commit.
   */
  withinTransaction(fn: (tx: Transaction, event: ChangeEvent) => Promise<void>): void {
    this.inTransaction.push(fn);
  }

  async publish(tx: Transaction, event: Omit<ChangeEvent, 'at'>): Promise<void> {
    const full: ChangeEvent = { ...event, at: new Date().toISOString() };
    for (const fn of this.inTransaction) await fn(tx, full);
    await tx.notify(CHANNEL, JSON.stringify({ origin: this.origin, event: full }));
    const subject = [full.prompt, full.environment].filter(Boolean).join('/');
    tx.afterCommit(`change feed: ${full.type}${subject ? ` (${subject})` : ''}`, () => this.dispatch(full));
  }

  /**
   * Calls every subscriber even when one throws (an EventEmitter stops at the first), so a failing
   * subscriber cannot keep the resolve cache from being invalidated; the failures are thrown together after.
   */
  private dispatch(event: ChangeEvent): void {
    const failures: unknown[] = [];
    for (const listener of this.emitter.listeners('change') as Array<(event: ChangeEvent) => void>) {
      try {
        listener(event);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} change feed subscribers failed`);
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  /** Long-lived listeners (event streams) end themselves when the server shuts down. */
  onShutdown(listener: () => void): () => void {
    this.emitter.on('shutdown', listener);
    return () => this.emitter.off('shutdown', listener);
  }

  /** Open event streams (each waits on shutdown), for the operator metrics. */
  streamCount(): number {
    return this.emitter.listenerCount('shutdown');
  }

  shutdown(): void {
    this.emitter.emit('shutdown');
  }
}
