import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import type { ExecutionPartitions, Partition, PartitionCount } from '../executions/store/index.js';
import { specificity, type PolicyRow } from './repository.js';

/** The policy that governs executions of a prompt and environment: the most specific one in scope. */
function governing(policies: readonly PolicyRow[], c: PartitionCount): PolicyRow | undefined {
  let best: PolicyRow | undefined;
  for (const p of policies) {
    if (p.prompt_id !== null && p.prompt_id !== c.prompt_id) continue;
    if (p.environment !== null && p.environment !== c.environment) continue;
    if (!best || specificity(p) > specificity(best)) best = p;
  }
  return best;
}

/**
 * Drops the month partitions (Postgres) whose every execution its policy
 * deletes: each (prompt, environment) in the month is governed by a delete
 * policy whose cutoff is at or after the month's end. The partition is
 * counted and dropped in one transaction, locked against writes, with an
 * audit entry per policy. Answers the executions dropped per policy id.
 */
export async function dropExpiredPartitions(
  db: Database,
  partitions: ExecutionPartitions,
  o: {
    policies: readonly PolicyRow[];
    cutoffOf: (p: PolicyRow) => string;
    minRows: number;
    actor: Principal;
    runId: string;
    stopping: () => boolean;
  },
): Promise<Map<string, number>> {
  const dropped = new Map<string, number>();
  const deletes = o.policies.filter((p) => p.action === 'delete');
  if (deletes.length === 0) return dropped;
  // No month past the latest delete cutoff can qualify.
  const latest = deletes.map(o.cutoffOf).reduce((a, b) => (a > b ? a : b));
  const candidates = (await partitions.list(db)).filter((p) => p.to <= latest);
  for (const partition of candidates) {
    if (o.stopping()) break;
    const byPolicy = await db.transaction(async (tx) => {
      const counts = await partitions.counts(tx, partition);
      const plan = planDrop(o.policies, o.cutoffOf, partition, counts, o.minRows);
      if (!plan) return undefined;
      await partitions.drop(tx, partition);
      for (const [policy, count] of plan) {
        await recordAudit(tx, o.actor, {
          action: 'executions.deleted',
          prompt: policy.prompt ?? undefined,
          environment: policy.environment ?? undefined,
          details: {
            run_id: o.runId,
            count,
            policy: { prompt: policy.prompt, environment: policy.environment, days: policy.days, action: policy.action },
            cutoff: o.cutoffOf(policy),
            partition: { name: partition.name, from: partition.from, to: partition.to },
          },
        });
      }
      return plan;
    });
    for (const [policy, count] of byPolicy ?? []) dropped.set(policy.id, (dropped.get(policy.id) ?? 0) + count);
  }
  return dropped;
}

/** Per governing policy, the executions a drop of the partition deletes; undefined when it must not be dropped whole. */
function planDrop(
  policies: readonly PolicyRow[],
  cutoffOf: (p: PolicyRow) => string,
  partition: Partition,
  counts: readonly PartitionCount[],
  minRows: number,
): Map<PolicyRow, number> | undefined {
  const total = counts.reduce((n, c) => n + c.count, 0);
  if (total === 0 || total < minRows) return undefined;
  const plan = new Map<PolicyRow, number>();
  for (const c of counts) {
    if (c.count === 0) continue;
    const policy = governing(policies, c);
    if (!policy || policy.action !== 'delete' || cutoffOf(policy) < partition.to) return undefined;
    plan.set(policy, (plan.get(policy) ?? 0) + c.count);
  }
  return plan;
}
