import * as vscode from 'vscode';
import type { EventSubscription, RegistryEvent } from '../client/index.js';
import type { Connection } from './connection.js';
import { Disposable } from './lifecycle.js';

/** Events that change what the Prompts and Live trees show. */
const TREE_EVENTS = new Set<RegistryEvent['type']>(['version.created', 'deployment.created', 'deployment.rolled_back', 'prompt.updated', 'rollout.changed']);

/** Events close together (a push of 50 prompts) make one refresh. */
const DEBOUNCE_MS = 150;

/**
 * Follows the registry's event stream while connected, so a colleague's
 * publish, deploy or rollback shows in the trees without a refresh. After a
 * gap in the stream (reconnected), events may have been missed: everything
 * is refreshed once.
 */
export class LiveUpdates extends Disposable {
  private subscription: EventSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly changed = this._register(new vscode.EventEmitter<RegistryEvent | undefined>());
  /** After the trees were refreshed for a change; undefined after a resync. */
  readonly onDidChange = this.changed.event;
  private last: RegistryEvent | undefined;
  private readonly received = this._register(new vscode.EventEmitter<RegistryEvent | undefined>());
  /** Each tree event as it arrives, before the debounced refresh (caches forget what it changed); undefined after a gap. */
  readonly onEvent = this.received.event;

  constructor(
    private readonly connection: Connection,
    private readonly refresh: () => void,
  ) {
    super();
    this._register(connection.onDidChange(() => this.follow()));
    this._register({ dispose: () => this.stop() });
    this.follow();
  }

  private follow(): void {
    this.stop();
    if (this.connection.state.kind !== 'connected') return;
    this.subscription = this.connection.api.events({
      onEvent: (event) => {
        if (!TREE_EVENTS.has(event.type)) return;
        this.received.fire(event);
        this.soon(event);
      },
      onResync: () => {
        this.received.fire(undefined);
        this.soon(undefined);
      },
      onError: () => undefined, // the subscription reconnects by itself and then resyncs
    });
  }

  private soon(event: RegistryEvent | undefined): void {
    this.last = event;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh();
      this.changed.fire(this.last);
    }, DEBOUNCE_MS);
  }

  private stop(): void {
    this.subscription?.close();
    this.subscription = undefined;
    clearTimeout(this.timer);
  }
}
