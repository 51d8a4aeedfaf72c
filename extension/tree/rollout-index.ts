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

  constructor(
    private readonly connection: Connection,
    liveUpdates: LiveUpdates,
  ) {
    super();
    this._register(connection.onDidChange(() => this.clear()));
    this._register(liveUpdates.onEvent((event) => this.follow(event)));
  }

  /** The rollout running there, or undefined; asked for once until something changes it. */
  get(prompt: string, environment: string): Promise<Rollout | undefined> {
    const key = keyOf(prompt, environment);
    let answer = this.known.get(key);
    if (!answer) {
      answer = this.connection.api.rolloutIfAny(prompt, environment);
      this.known.set(key, answer);
      // A failed look-up is asked again next time, not remembered.
      answer.catch(() => this.known.delete(key));
    }
    return answer;
  }

  /** Several at once (a page of the Live view), a few requests at a time; a failed one shows as none. */
  many(pairs: ReadonlyArray<{ prompt: string; environment: string }>): Promise<Array<Rollout | undefined>> {
    return mapLimit(pairs, CONCURRENCY, (p) => this.get(p.prompt, p.environment).catch(() => undefined));
  }

  forget(prompt: string, environment: string): void {
    this.known.delete(keyOf(prompt, environment));
  }

  clear(): void {
    this.known.clear();
  }

  private follow(event: RegistryEvent | undefined): void {
    if (!event) return this.clear();
    if (!event.prompt) return;
    if (event.type === 'rollout.changed' || event.type === 'deployment.created' || event.type === 'deployment.rolled_back') {
      if (event.environment) this.forget(event.prompt, event.environment);
      else for (const key of [...this.known.keys()]) if (key.startsWith(`${event.prompt}\n`)) this.known.delete(key);
    }
  }
}
