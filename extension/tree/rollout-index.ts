import { RegistryError, type RegistryEvent, type Rollout } from '../../client/index.js';
import type { Connection } from '../connection.js';
import { mapLimit } from '../core/rollouts.js';
import { Disposable } from '../lifecycle.js';
import type { LiveUpdates } from '../live-updates.js';

/** Requests for rollouts in flight at once, against a registry without the list of them (one per prompt). */
const CONCURRENCY = 8;

const keyOf = (prompt: string, environment: string) => `${prompt}\n${environment}`;

/**
 * The rollout running for each (prompt, environment) the trees show, asked
 * for once and kept until the event stream says it changed: a weight change,
 * a promotion or an abort (`rollout.changed`), or a deploy or rollback there
 * (which ends a rollout). A gap in the stream, a new connection or Refresh
 * forget everything. A page of the Live view asks for the environment's
 * rollouts in one request (`GET /rollouts?environment=`), and one prompt's
 * in one request with `&prompt=`; a registry older than that list (404) is
 * asked `GET /prompts/{name}/rollouts/{environment}` per prompt instead.
 */
export class RolloutIndex extends Disposable {
  private readonly known = new Map<string, Promise<Rollout | undefined>>();
  /** What the look-ups answered (null: none runs), for drawing a tree page without waiting. */
  private readonly answers = new Map<string, Rollout | null>();
  /** Lists of an environment's rollouts in flight (true once kept), so two views loading at once ask once. */
  private readonly listing = new Map<string, Promise<boolean>>();
  /** Counts what changed the answers from outside (events, actions): a list asked for before is not kept. */
  private changes = 0;
  /** False once the registry said it has no list of rollouts (older than it), until the connection changes. */
  private canList = true;

  constructor(
    private readonly connection: Connection,
    liveUpdates: LiveUpdates,
  ) {
    super();
    this._register(
      connection.onDidChange(() => {
        this.canList = true;
        this.clear();
      }),
    );
    this._register(liveUpdates.onEvent((event) => this.follow(event)));
  }

  /** The rollout running there, or undefined; asked for once until something changes it. */
  get(prompt: string, environment: string, opts: { again?: boolean } = {}): Promise<Rollout | undefined> {
    const key = keyOf(prompt, environment);
    let answer = opts.again ? undefined : this.known.get(key);
    if (!answer) {
      const asked = this.lookUp(prompt, environment);
      this.known.set(key, asked);
      // Kept unless forgotten meanwhile (an event said it changed while it was asked for).
      asked.then(
        (r) => this.known.get(key) === asked && this.answers.set(key, r ?? null),
        // A failed look-up is asked again next time, not remembered.
        () => this.known.get(key) === asked && this.known.delete(key),
      );
      answer = asked;
    }
    return answer;
  }

  /** What is known without asking: the rollout, null when none runs, undefined when not asked yet. */
  peek(prompt: string, environment: string): Rollout | null | undefined {
    return this.answers.get(keyOf(prompt, environment));
  }

  /**
   * Several at once (a page of the Live view, a prompt's environments): each environment with a
   * prompt not known yet is listed in one request; a failed look-up shows as none.
   */
  async many(pairs: ReadonlyArray<{ prompt: string; environment: string }>): Promise<Array<Rollout | undefined>> {
    const unknown = new Map<string, string[]>();
    for (const { prompt, environment } of pairs) {
      if (this.known.has(keyOf(prompt, environment))) continue;
      unknown.set(environment, [...(unknown.get(environment) ?? []), prompt]);
    }
    // Several unknown in one environment: its list. One: that prompt's (the same one request, a smaller answer).
    await Promise.all([...unknown].filter(([, prompts]) => prompts.length > 1).map(([environment, prompts]) => this.list(environment, prompts).catch(() => undefined)));
    return mapLimit(pairs, CONCURRENCY, (p) => this.get(p.prompt, p.environment).catch(() => undefined));
  }

  /** What an action of this extension answered: the rollout as it runs now, or null once it ended. */
  remember(rollout: Rollout): void {
    this.settle(keyOf(rollout.prompt, rollout.environment), rollout.status === 'active' ? rollout : null);
  }

  private settle(key: string, rollout: Rollout | null): void {
    this.changes++;
    this.known.set(key, Promise.resolve(rollout ?? undefined));
    this.answers.set(key, rollout);
  }

  forget(prompt: string, environment: string): void {
    this.changes++;
    this.known.delete(keyOf(prompt, environment));
    this.answers.delete(keyOf(prompt, environment));
  }

  clear(): void {
    this.changes++;
    this.known.clear();
    this.answers.clear();
  }

  /** One prompt's rollout: the list with `prompt` (no 404 when none runs), or the per-prompt route on an older registry. */
  private async lookUp(prompt: string, environment: string): Promise<Rollout | undefined> {
    const api = this.connection.api;
    if (this.canList) {
      try {
        return (await api.listRollouts(environment, { prompt })).items[0];
      } catch (err) {
        if (!(err instanceof RegistryError && err.status === 404)) throw err;
        this.canList = false;
      }
    }
    return api.rolloutIfAny(prompt, environment);
  }

  /**
   * Lists the rollouts running in an environment (once, however many callers wait for it), keeps each,
   * and `prompts` not among them as none. Without a list (an older registry), or when something changed
   * the answers while it was asked for (an event), nothing is kept: get() asks per prompt.
   */
  private async list(environment: string, prompts: readonly string[]): Promise<void> {
    let listing = this.listing.get(environment);
    if (!listing) {
      listing = this.listAll(environment).finally(() => this.listing.delete(environment));
      this.listing.set(environment, listing);
    }
    if (!(await listing)) return;
    for (const prompt of prompts) if (!this.known.has(keyOf(prompt, environment))) this.keep(keyOf(prompt, environment), null);
  }

  private async listAll(environment: string): Promise<boolean> {
    if (!this.canList) return false;
    const before = this.changes;
    const running = await this.connection.api.runningRollouts(environment);
    if (running === undefined) this.canList = false;
    if (running === undefined || this.changes !== before) return false;
    for (const r of running) this.keep(keyOf(r.prompt, environment), r);
    return true;
  }

  /** Settles what a list answered (not a change from outside). */
  private keep(key: string, rollout: Rollout | null): void {
    this.known.set(key, Promise.resolve(rollout ?? undefined));
    this.answers.set(key, rollout);
  }

  private follow(event: RegistryEvent | undefined): void {
    if (!event) return this.clear();
    if (!event.prompt) return;
    if (event.type === 'rollout.changed' && event.environment) {
      // The event says enough to redraw at once (no row falling back to the plain live version
      // while the rollout is asked for again); the look-up behind it brings the rest (its guard).
      const key = keyOf(event.prompt, event.environment);
      const had = this.answers.get(key);
      if (event.status && event.status !== 'active') return this.settle(key, null);
      if (had && had.id === event.rollout_id && event.weight !== undefined) {
        this.settle(key, { ...had, weight: event.weight, updated_at: event.at });
        return void this.get(event.prompt, event.environment, { again: true });
      }
    }
    if (event.type === 'rollout.changed' || event.type === 'deployment.created' || event.type === 'deployment.rolled_back') {
      if (event.environment) this.forget(event.prompt, event.environment);
      else for (const key of [...this.known.keys()]) if (key.startsWith(`${event.prompt}\n`)) this.forget(event.prompt, key.slice(event.prompt.length + 1));
    }
  }
}
