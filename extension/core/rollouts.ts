/**
 * What the trees, commands and confirmations say about rollouts and partials
 * ("used by"), from the registry's answers. Pure: no `vscode` import.
 */
import type { Rollout, RolloutGuard, UsedBy } from '../../client/index.js';
import type { ItemText } from './tree-model.js';

/** The part of a rollout the trees show: which versions serve which share. */
export type Split = Pick<Rollout, 'live' | 'candidate' | 'weight'>;

/** `v3 90% · v4 10%`: the live version first, then the candidate. */
export function splitText(r: Split): string {
  return `v${r.live} ${100 - r.weight}% · v${r.candidate} ${r.weight}%`;
}

const COMPARISON: Record<NonNullable<RolloutGuard['comparison']>, string> = {
  above_live: 'more than THRESHOLD above the live version’s',
  below_live: 'more than THRESHOLD below the live version’s',
  above: 'above THRESHOLD',
  below: 'below THRESHOLD',
};

/** `error_rate over its last 200 executions, more than 0.05 above the live version’s`. */
export function guardText(g: RolloutGuard): string {
  return `${g.metric} over its last ${g.window} executions, ${COMPARISON[g.comparison ?? 'above_live'].replace('THRESHOLD', String(g.threshold))}`;
}

function rolloutTooltip(prompt: string, environment: string, r: Rollout): string {
  return [
    `${prompt} in ${environment}: a rollout`,
    `v${r.candidate} (candidate) serves ${r.weight}% of keys, v${r.live} (live) the other ${100 - r.weight}%`,
    `started by ${r.started_by} at ${r.started_at}`,
    r.updated_at !== r.started_at ? `weight last changed at ${r.updated_at}` : undefined,
    r.guard ? `guard: aborts when ${guardText(r.guard)}` : 'no guard: it runs until promoted or aborted',
  ]
    .filter(Boolean)
    .join('\n');
}

/** A rollout's row under its prompt in the Prompts tree: `production` · `v3 90% · v4 10% (rollout)`. */
export function rolloutText(prompt: string, environment: string, r: Rollout): ItemText {
  return { label: environment, description: `${splitText(r)} (rollout)`, tooltip: rolloutTooltip(prompt, environment, r) };
}

/** The Live view's row of a prompt with a rollout: both versions and their weights instead of the one live version. */
export function liveRolloutText(prompt: string, environment: string, r: Rollout): ItemText {
  // Short: a sidebar is narrow; who started it is in the tooltip.
  return { label: prompt, description: `${splitText(r)} (rollout)`, tooltip: rolloutTooltip(prompt, environment, r) };
}

/** A weight as typed: a whole percent from 1 to 99, or what is wrong with it. */
export function parseWeight(text: string): { weight: number } | { error: string } {
  const t = text.trim().replace(/%$/, '').trim();
  if (!/^\d+$/.test(t)) return { error: 'The candidate’s share is a whole percent from 1 to 99, e.g. 10' };
  const weight = Number(t);
  if (weight < 1) return { error: 'At least 1%: to end the rollout, abort it' };
  if (weight > 99) return { error: 'At most 99%: to serve the candidate to everyone, promote it' };
  return { weight };
}

/** Guards offered when starting a rollout, with their usual comparison and a starting threshold. */
export const GUARD_PRESETS: ReadonlyArray<{ metric: string; label: string; comparison: NonNullable<RolloutGuard['comparison']>; threshold: number; unit: string }> = [
  { metric: 'error_rate', label: 'Error rate', comparison: 'above_live', threshold: 0.05, unit: 'a share: 0.05 is 5 points' },
  { metric: 'latency_ms', label: 'Latency (mean)', comparison: 'above_live', threshold: 500, unit: 'milliseconds' },
  { metric: 'quality_score', label: 'Quality score (mean)', comparison: 'below_live', threshold: 0.1, unit: 'score points' },
];

/** A guard's window as typed: a whole number of executions from 1 to 10,000. */
export function parseWindow(text: string): { window: number } | { error: string } {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 10_000) return { error: 'A whole number of executions from 1 to 10,000, e.g. 200' };
  return { window: Number(t) };
}

export function parseThreshold(text: string): { threshold: number } | { error: string } {
  const n = Number(text.trim());
  if (!text.trim() || !Number.isFinite(n)) return { error: 'A number, e.g. 0.05' };
  return { threshold: n };
}

/**
 * The live prompts a deploy (or rollback) of `prompt` in `environment` changes:
 * those live there that follow it (`{{> safety}}`), and those live anywhere
 * that follow what is live in that environment (`{{> "safety@production"}}`).
 * Pinned references (`safety@3`) do not move.
 */
export function affectedDependents(usedBy: UsedBy[], prompt: string, environment: string): UsedBy[] {
  return usedBy.filter((u) => (u.ref === prompt && u.live_in.includes(environment)) || (u.ref === `${prompt}@${environment}` && u.live_in.length > 0));
}

/** One line per dependent for a confirmation: `support-reply v3 (live in production) follows safety`. */
export function dependentsDetail(dependents: UsedBy[], prompt: string, environment: string): string {
  const lines = dependents.map((u) => `• ${u.prompt} v${u.version} (live in ${u.live_in.join(', ')}) includes {{> ${u.ref === prompt ? prompt : `"${u.ref}"`}}}`);
  const n = new Set(dependents.map((u) => u.prompt)).size;
  return [`${n === 1 ? 'A live prompt includes' : `${n} live prompts include`} ${prompt} as a partial; their text changes with what is live in ${environment}:`, ...lines].join('\n');
}

/** A row under "Used by": `support-reply v3` · `live in production` (or `not live`), the reference in the tooltip. */
export function usedByText(u: UsedBy, partial: string): ItemText {
  const how = u.ref === partial ? `follows ${partial} (the version live where it is resolved)` : u.ref.includes('@') && /^\d+$/.test(u.ref.split('@')[1]!) ? `pins ${u.ref}` : `follows what is live in ${u.ref.split('@')[1]}`;
  return {
    label: `${u.prompt} v${u.version}`,
    description: u.live_in.length ? `live in ${u.live_in.join(', ')}` : 'not live',
    tooltip: `${u.prompt} v${u.version} includes {{> ${u.ref === partial ? partial : `"${u.ref}"`}}}: it ${how}.\n${u.live_in.length ? `Live in ${u.live_in.join(', ')}.` : 'Not live anywhere.'}`,
  };
}

/** The "Used by" row: how many versions of how many prompts include it. */
export function usedByHeading(usedBy: UsedBy[]): ItemText {
  const prompts = new Set(usedBy.map((u) => u.prompt)).size;
  const live = usedBy.filter((u) => u.live_in.length).length;
  return {
    label: 'Used by',
    description: `${usedBy.length} version${usedBy.length === 1 ? '' : 's'} of ${prompts} prompt${prompts === 1 ? '' : 's'}${live ? `, ${live} live` : ''}`,
    tooltip: 'Versions of other prompts that include this one as a partial ({{> name}}), and where they are live',
  };
}

/** Runs `fn` over `items`, at most `limit` at a time, answers in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
