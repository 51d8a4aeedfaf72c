import type { Database } from '../db/index.js';
import { LruCache } from '../lru.js';
import type { ExecutionInput } from './ingest-schemas.js';
import type { DeploymentAt, ExecutionStore, VersionRef } from './store/index.js';

/**
 * Resolves what each logged execution names to a version: by id, by prompt
 * and number, or by what was live in its environment when it ran. Versions
 * never change and are never deleted, so what a reference resolves to is kept.
 */
export class VersionReferences {
  private readonly byId = new LruCache<string, VersionRef>(20_000);
  private readonly byNumber = new LruCache<string, VersionRef>(20_000);
  private readonly promptIds = new LruCache<string, string>(20_000);

  constructor(
    private readonly db: Database,
    private readonly store: ExecutionStore,
  ) {}

  /** The version each row names: by id, by prompt and number, or by what was live in its environment when it ran. */
  async resolve(
    inputs: ReadonlyArray<ExecutionInput | undefined>,
    executedAt: readonly string[],
    skip: Set<number> | undefined,
    flag: (index: number, path: string, message: string) => void,
  ): Promise<Array<VersionRef | undefined>> {
    const refs: Array<VersionRef | undefined> = new Array(inputs.length);
    const wanted = (i: number) => inputs[i] !== undefined && !skip?.has(i);
    const numberKey = (prompt: string, version: number) => `${prompt}\u0000${version}`;

    // 1. Fetch what the caches lack, in bulk: ids, (prompt, number) pairs, prompt names.
    const ids = new Set<string>();
    const pairs = new Map<string, { prompt: string; version: number }>();
    const names = new Set<string>();
    inputs.forEach((e, i) => {
      if (!e || !wanted(i)) return;
      if (e.prompt_version_id !== undefined) {
        if (!this.byId.get(e.prompt_version_id)) ids.add(e.prompt_version_id);
      } else if (e.version !== undefined) {
        const key = numberKey(e.prompt!, e.version);
        if (!this.byNumber.get(key)) pairs.set(key, { prompt: e.prompt!, version: e.version });
      } else if (!this.promptIds.get(e.prompt!)) {
        names.add(e.prompt!);
      }
    });
    const remember = (ref: VersionRef) => {
      this.byId.set(ref.id, ref);
      this.byNumber.set(numberKey(ref.prompt, ref.version_number), ref);
      this.promptIds.set(ref.prompt, ref.prompt_id);
    };
    const [byIds, byNumbers, byNames] = await Promise.all([
      this.store.versionsByIds(this.db, [...ids]),
      this.store.versionsByNumbers(this.db, [...pairs.values()]),
      this.store.promptsByNames(this.db, [...names]),
    ]);
    for (const ref of [...byIds, ...byNumbers]) remember(ref);
    for (const p of byNames) this.promptIds.set(p.name, p.id);

    // 2. Rows naming a version, by id or number.
    const missingPrompts = new Set<string>();
    const byEnvironment: number[] = [];
    inputs.forEach((e, i) => {
      if (!e || !wanted(i)) return;
      if (e.prompt_version_id !== undefined) {
        const ref = this.byId.get(e.prompt_version_id);
        if (!ref) return flag(i, 'prompt_version_id', `no version has the id ${e.prompt_version_id}`);
        if (e.prompt !== undefined && e.prompt !== ref.prompt) return flag(i, 'prompt', `version ${e.prompt_version_id} belongs to "${ref.prompt}", not "${e.prompt}"`);
        if (e.version !== undefined && e.version !== ref.version_number) {
          return flag(i, 'version', `version ${e.prompt_version_id} is version ${ref.version_number} of "${ref.prompt}", not ${e.version}`);
        }
        refs[i] = ref;
      } else if (e.version !== undefined) {
        const ref = this.byNumber.get(numberKey(e.prompt!, e.version));
        if (ref) refs[i] = ref;
        else missingPrompts.add(e.prompt!);
      } else if (!this.promptIds.get(e.prompt!)) {
        flag(i, 'prompt', `no prompt named "${e.prompt}"`);
      } else {
        byEnvironment.push(i);
      }
    });
    if (missingPrompts.size) {
      const known = new Set((await this.store.promptsByNames(this.db, [...missingPrompts])).map((p) => p.name));
      inputs.forEach((e, i) => {
        if (!e || !wanted(i) || refs[i] || e.prompt_version_id !== undefined || e.version === undefined) return;
        flag(i, known.has(e.prompt!) ? 'version' : 'prompt', known.has(e.prompt!) ? `"${e.prompt}" has no version ${e.version}` : `no prompt named "${e.prompt}"`);
      });
    }

    // 3. Rows naming an environment: the deployment there with the latest deployed_at at or before executed_at.
    if (byEnvironment.length) {
      const windows = new Map<string, { promptId: string; environment: string; first: string; last: string }>();
      for (const i of byEnvironment) {
        const e = inputs[i]!;
        const promptId = this.promptIds.get(e.prompt!)!;
        const key = `${promptId}\u0000${e.environment}`;
        const at = executedAt[i]!;
        const w = windows.get(key);
        if (!w) windows.set(key, { promptId, environment: e.environment!, first: at, last: at });
        else {
          if (at < w.first) w.first = at;
          if (at > w.last) w.last = at;
        }
      }
      const history = new Map<string, DeploymentAt[]>();
      for (const d of await this.store.deploymentsDuring(this.db, [...windows.values()])) {
        const key = `${d.prompt_id}\u0000${d.environment}`;
        history.set(key, [...(history.get(key) ?? []), d]);
      }
      for (const i of byEnvironment) {
        const e = inputs[i]!;
        const promptId = this.promptIds.get(e.prompt!)!;
        const list = history.get(`${promptId}\u0000${e.environment}`) ?? [];
        const at = executedAt[i]!;
        let live: DeploymentAt | undefined;
        for (const d of list) if (d.deployed_at <= at) live = d;
        if (!live) {
          flag(i, 'environment', `nothing of "${e.prompt}" was deployed to ${e.environment} at ${at}; name the version instead`);
          continue;
        }
        refs[i] = { id: live.version_id, prompt_id: promptId, prompt: e.prompt!, version_number: live.version_number };
      }
    }
    return refs;
  }
}
