import * as vscode from 'vscode';
import type { DeploymentRequest, EventSubscription, Me, RegistryApi } from '../../client/index.js';
import type { Connection } from '../connection.js';
import { Disposable } from '../lifecycle.js';
import { outcomeMessage } from './model.js';

const PAGE = 100;
/** Ages in the view go stale, and an event may be missed behind a proxy: look again this often. */
const RELOAD_MS = 60_000;

/**
 * The pending deployment requests and who the user is (`GET /me`, the only
 * source of identity, whatever the credential). Follows the registry's event
 * stream, and tells the requester when one of theirs is settled: live,
 * rejected or expired.
 */
export class Approvals extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;
  private readonly appliedEmitter = this._register(new vscode.EventEmitter<DeploymentRequest>());
  /** A request went live: the views showing what is live refresh. */
  readonly onDidApply = this.appliedEmitter.event;
  private readonly settledEmitter = this._register(new vscode.EventEmitter<{ request: DeploymentRequest; message: string | undefined }>());
  /** One of the user's requests was settled by someone else (or expired), with what they were told. */
  readonly onDidSettle = this.settledEmitter.event;

  me: Me | undefined;
  pending: DeploymentRequest[] = [];
  /** More pending requests than the view shows. */
  more = false;
  error: string | undefined;
  /** The user's own pending requests, by id: they are told when each is settled. */
  private readonly mine = new Map<string, DeploymentRequest>();
  /** Requests the user settled here: a load already under way must not follow them again. */
  private readonly settledHere = new Set<string>();
  private subscription: EventSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private queued = false;
  private loaded: Promise<void> = Promise.resolve();

  constructor(private readonly connection: Connection) {
    super();
    this._register(connection.onDidChange(() => this.reconnect()));
    this._register({ dispose: () => this.stop() });
    this.reconnect();
  }

  private api(): RegistryApi | undefined {
    return this.connection.state.kind === 'connected' ? this.connection.api : undefined;
  }

  private stop(): void {
    this.subscription?.close();
    this.subscription = undefined;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.timer = undefined;
  }

  private reconnect(): void {
    this.stop();
    // Another registry or another key may be another person: start over.
    this.me = undefined;
    this.pending = [];
    this.more = false;
    this.error = undefined;
    this.mine.clear();
    this.settledHere.clear();
    const api = this.api();
    if (!api) {
      this.changed.fire();
      return;
    }
    this.subscription = api.events({
      onEvent: (e) => {
        if (e.type === 'deployment_request.created' || e.type === 'deployment_request.decided') this.reloadSoon();
      },
      onResync: () => this.reloadSoon(),
      onError: () => undefined, // it reconnects by itself; the timer covers the gap
    });
    this.timer = setInterval(() => void this.reload(), RELOAD_MS);
    void this.reload();
  }

  /** Settles once the current (or a first) load has finished. */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** A request the user just made: they will hear when it is settled. */
  track(request: DeploymentRequest): void {
    this.mine.set(request.id, request);
    void this.reload();
  }

  /** A request the user settled themselves (approve, reject, withdraw): no notification for it. */
  forget(id: string): void {
    this.settledHere.add(id);
    this.mine.delete(id);
  }

  private reloadSoon(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), 150);
  }

  /** Loads /me and the pending requests; one load at a time, and one more if asked meanwhile. */
  reload(): Promise<void> {
    if (this.loading) {
      this.queued = true;
      return this.loaded;
    }
    this.loading = this.load().finally(() => {
      this.loading = undefined;
      if (this.queued) {
        this.queued = false;
        void this.reload();
      }
    });
    this.loaded = this.loading;
    return this.loading;
  }

  private async load(): Promise<void> {
    const api = this.api();
    if (!api) return;
    try {
      // A registry without /me still lists requests; the server decides who may act.
      const me = await api.me().catch(() => undefined);
      const page = await api.deploymentRequests({ status: 'pending', limit: PAGE });
      if (api !== this.api()) return; // the connection changed meanwhile
      const pending = page.items.filter((r) => r.status === 'pending');
      const ownPending = pending.filter((r) => me && r.requested_by === me.name);
      if (page.next_cursor && me) ownPending.push(...(await api.deploymentRequests({ status: 'pending', requestedBy: me.name, limit: PAGE })).items);
      for (const r of ownPending) if (!this.settledHere.has(r.id)) this.mine.set(r.id, r);
      const stillPending = new Set(ownPending.map((r) => r.id));
      for (const id of [...this.mine.keys()].filter((id) => !stillPending.has(id))) {
        const now = await api.deploymentRequest(id).catch(() => undefined);
        if (now && now.status === 'pending') continue;
        this.mine.delete(id);
        if (now) this.settled(now, me);
      }
      this.me = me;
      this.pending = pending;
      this.more = page.next_cursor !== null;
      this.error = undefined;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
    this.changed.fire();
  }

  private settled(r: DeploymentRequest, me: Me | undefined): void {
    if (r.status === 'applied') this.appliedEmitter.fire(r);
    const message = outcomeMessage(r, me);
    this.settledEmitter.fire({ request: r, message: message?.text });
    if (!message) return;
    if (message.warning) void vscode.window.showWarningMessage(message.text);
    else void vscode.window.showInformationMessage(message.text);
  }
}
