import type { RegistryEvent, Rollout } from '../../client/index.js';
import type { Connection } from '../connection.js';
import { mapLimit } from '../core/rollouts.js';
import { Disposable } from '../lifecycle.js';
import type { LiveUpdates } from '../live-updates.js';

/** Requests for rollouts in flight at once when a page of the Live view loads. */
const CONCURRENCY = 8;

const keyOf = (prompt: string, environment: string) => `${prompt}\n${environment}`;

/**
 * The rollout running for each (prompt, environment) the trees show, asked
 * for once and kept until the event stream says it changed: a weight change,
 * a promotion or an abort (`rollout.changed`), or a deploy or rollback there
 * (which ends a rollout). A gap in the stream, a new connection or Refresh
 * forget everything. The registry has no list of rollouts, so each is one
 * `GET /prompts/{name}/rollouts/{environment}`; the cache keeps a tree
 * refresh from repeating them.
 */
export class RolloutIndex extends Disposable {
  private readonly known = new Map<string, Promise<Rollout | undefined>>();
  /** What the look-ups answered (null: none runs), for drawing a tree page without waiting. */
  private readonly answers = new Map<string, Rollout | null>();

  constructor(
    private readonly connection: Connection,
    liveUpdates: LiveUpdates,
  ) {
    super();
    this._register(connection.onDidChange(() => this.clear()));
    this._register(liveUpdates.onEvent((event) => this.follow(event)));
  }

  /** The rollout running there, or undefined; asked for once until something changes it. */
  get(prompt: string, environment: string, opts: { again?: boolean } = {}): Promise<Rollout | undefined> {
    const key = keyOf(prompt, environment);
    let answer = opts.again ? undefined : this.known.get(key);
    if (!answer) {
      const asked = this.connection.api.rolloutIfAny(prompt, environment);
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

  /** Several at once (a page of the Live view), a few requests at a time; a failed one shows as none. */
  many(pairs: ReadonlyArray<{ prompt: string; environment: string }>): Promise<Array<Rollout | undefined>> {
    return mapLimit(pairs, CONCURRENCY, (p) => this.get(p.prompt, p.environment).catch(() => undefined));
  }

  /** What an action of this extension answered: the rollout as it runs now, or null once it ended. */
  remember(rollout: Rollout): void {
    this.settle(keyOf(rollout.prompt, rollout.environment), rollout.status === 'active' ? rollout : null);
  }

  private settle(key: string, rollout: Rollout | null): void {
    this.known.set(key, Promise.resolve(rollout ?? undefined));
    this.answers.set(key, rollout);
  }

  forget(prompt: string, environment: string): void {
    this.known.delete(keyOf(prompt, environment));
    this.answers.delete(keyOf(prompt, environment));
  }

  clear(): void {
    this.known.clear();
    this.answers.clear();
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
