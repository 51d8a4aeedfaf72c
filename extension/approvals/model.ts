/**
 * What the Approvals view and its notifications say about deployment
 * requests. Pure (no `vscode`): the view and commands only wrap these.
 */
import type { DeploymentRequest, Me } from '../../client/index.js';
import type { ItemText } from '../core/tree-model.js';

/**
 * How the signed-in user stands to a pending request: `own` (theirs: they may
 * withdraw it), `decide` (they may approve or reject), `decided` (they already
 * approved it), `view` (they may not deploy there).
 */
export type RequestRole = 'own' | 'decide' | 'decided' | 'view';

export function roleOf(r: DeploymentRequest, me: Me | undefined): RequestRole {
  // Without /me (an older registry) nothing is known: offer the actions and let the server decide.
  if (!me) return 'decide';
  if (r.requested_by === me.name) return 'own';
  if (r.decisions.some((d) => d.actor === me.name)) return 'decided';
  return me.can.deploy[r.environment]?.allowed ? 'decide' : 'view';
}

/** How many requests wait for this user's decision: the view's badge. */
export function awaitingDecision(requests: DeploymentRequest[], me: Me | undefined): number {
  return requests.filter((r) => r.status === 'pending' && roleOf(r, me) === 'decide').length;
}

function span(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${Math.max(min, 1)} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h`;
  // Nearest day: a 72-hour expiry reads "3 d" a minute later, not "2 d".
  return `${Math.round(min / 1440)} d`;
}

/** `just now`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function ago(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  return ms < 60_000 ? 'just now' : `${span(ms)} ago`;
}

/** `expires in 3 d`, or `expired`. */
export function expiry(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? 'expired' : `expires in ${span(ms)}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
export const shortId = (id: string) => id.slice(0, 8);

/**
 * "deploy of greeting v2 to production", "rollback of greeting in production to v1",
 * "rollout of greeting v4 to 10% in production", "abort of the greeting v4 rollout in production".
 */
export function describeChange(r: Pick<DeploymentRequest, 'action' | 'prompt' | 'version' | 'environment' | 'rollout'>): string {
  switch (r.action) {
    case 'deploy':
      return `deploy of ${r.prompt} v${r.version} to ${r.environment}`;
    case 'rollback':
      return `rollback of ${r.prompt} in ${r.environment} to v${r.version}`;
    case 'rollout_start':
      return `rollout of ${r.prompt} v${r.version} to ${r.rollout?.weight ?? '?'}% in ${r.environment}`;
    case 'rollout_abort':
      return `abort of the ${r.prompt} v${r.version} rollout in ${r.environment}`;
  }
}

/** A request's row label: what goes where. */
export function changeLabel(r: DeploymentRequest): string {
  if (r.action === 'rollout_start') return `${r.prompt} v${r.version} → ${r.environment} ${r.rollout?.weight ?? '?'}%`;
  if (r.action === 'rollout_abort') return `${r.prompt} v${r.version} rollout in ${r.environment}: abort`;
  return `${r.prompt} v${r.version} → ${r.environment}`;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const live = (version: number | null | undefined) => (version ? `v${version}` : 'nothing');

/** A pending request's row: `greeting v2 → production`, then who, how far along, how old, until when. */
export function requestText(r: DeploymentRequest, me: Me | undefined, now: number): ItemText {
  const role = roleOf(r, me);
  const who = role === 'own' ? 'you' : r.requested_by;
  const change = r.action === 'rollback' ? `rollback from v${r.from_version ?? '?'}` : r.action === 'rollout_start' ? `rollout beside v${r.from_version ?? '?'}` : r.action === 'rollout_abort' ? 'rollout abort' : undefined;
  // Short: a sidebar is narrow. The rows under it and the tooltip say the rest.
  const description = [r.outdated ? 'outdated' : undefined, change, who, `${r.approvals}/${r.required_approvals}`, ago(r.requested_at, now), expiry(r.expires_at, now)].filter(Boolean).join(' · ');
  const decisions = r.decisions.map((d) => `${d.actor} ${d.decision === 'approve' ? 'approved' : 'rejected'}${d.comment ? `: “${d.comment}”` : ''}`);
  const tooltip = [
    r.outdated
      ? `${capital(describeChange(r))}: outdated, ${live(r.live_version)} is live there now, not ${live(r.from_version)} as when it was asked for. It can't be approved; reject it and ask again.`
      : `${capital(describeChange(r))}${r.from_version ? ` (live there now: v${r.from_version})` : ''}`,
    `Requested by ${r.requested_by}, ${ago(r.requested_at, now)} (${r.requested_at})`,
    r.comment ? `“${r.comment}”` : undefined,
    `Approvals: ${r.approvals} of ${r.required_approvals}`,
    ...decisions,
    `${capital(expiry(r.expires_at, now))} (${r.expires_at})`,
    role === 'own' ? 'Your request: someone else must approve it; you may withdraw it.' : role === 'decided' ? 'You approved it.' : role === 'view' ? `You may not deploy to ${r.environment}.` : undefined,
    `Request ${r.id}`,
  ];
  return { label: changeLabel(r), description, tooltip: tooltip.filter(Boolean).join('\n') };
}

export interface DetailText {
  label: string;
  description: string;
  icon: string;
  /** The detail that opens what would change. */
  compare?: { prompt: string; from: number | null; to: number };
}

/** The rows under a request: who asked and why, approvals so far, expiry, and what would change. */
export function requestDetails(r: DeploymentRequest, me: Me | undefined, now: number): DetailText[] {
  const who = roleOf(r, me) === 'own' ? 'you' : r.requested_by;
  const decisions = r.decisions.map((d) => `${d.actor} ${d.decision === 'approve' ? 'approved' : 'rejected'}${d.comment ? `: “${d.comment}”` : ''}`).join(', ');
  // One fact a row, the short part first: a sidebar cuts off the rest (the tooltip has it).
  return [
    { label: `Requested by ${who}`, description: ago(r.requested_at, now), icon: 'person' },
    ...(r.comment ? [{ label: `“${r.comment}”`, description: '', icon: 'comment' }] : []),
    { label: `${r.approvals} of ${plural(r.required_approvals, 'approval')}`, description: decisions, icon: 'pass' },
    { label: capital(expiry(r.expires_at, now)), description: `${r.expires_at.slice(0, 16).replace('T', ' ')} UTC`, icon: 'watch' },
    ...(r.outdated ? [{ label: `Outdated: ${live(r.live_version)} is live now`, description: `asked when ${live(r.from_version)} was; it can't be approved`, icon: 'warning' }] : []),
    r.from_version && r.from_version !== r.version
      ? { label: `Compare v${r.from_version} → v${r.version}`, description: `live now: v${r.from_version}`, icon: 'diff', compare: { prompt: r.prompt, from: r.from_version, to: r.version } }
      : { label: `Open v${r.version}`, description: 'nothing live there now', icon: 'file', compare: { prompt: r.prompt, from: null, to: r.version } },
  ];
}

/** What the requester is told right after asking. */
export function pendingMessage(r: DeploymentRequest): string {
  const missing = r.required_approvals - r.approvals;
  return `${capital(describeChange(r))} is waiting for ${plural(missing, 'approval')}; request ${shortId(r.id)}.`;
}

const approvers = (r: DeploymentRequest) => r.decisions.filter((d) => d.decision === 'approve').map((d) => d.actor);

/** What the requester is told when their request is settled; undefined when they settled it themselves. */
export function outcomeMessage(r: DeploymentRequest, me: Me | undefined): { text: string; warning: boolean } | undefined {
  if (r.status === 'applied') {
    const by = approvers(r);
    return { text: `${appliedText(r)}${by.length ? ` (approved by ${by.join(', ')})` : ''}.`, warning: false };
  }
  if (r.status === 'rejected') {
    const rejection = r.decisions.find((d) => d.decision === 'reject');
    if (rejection && me && rejection.actor === me.name) return undefined; // withdrawn here
    const by = rejection ? ` by ${rejection.actor}` : '';
    return { text: `Your ${describeChange(r)} was rejected${by}${rejection?.comment ? `: ${rejection.comment}` : '.'}`, warning: true };
  }
  if (r.status === 'expired') {
    return { text: `Your ${describeChange(r)} expired with ${r.approvals} of ${plural(r.required_approvals, 'approval')}; ask again if it is still wanted.`, warning: true };
  }
  return undefined;
}

/** What an applied request did, without a full stop. */
function appliedText(r: DeploymentRequest): string {
  if (r.action === 'rollout_start') return `The rollout of ${r.prompt} v${r.version} serves ${r.rollout?.weight ?? '?'}% in ${r.environment}`;
  if (r.action === 'rollout_abort') return `The rollout of ${r.prompt} v${r.version} in ${r.environment} is aborted`;
  return `${r.prompt} v${r.version} is live in ${r.environment}${r.action === 'rollback' ? ' again' : ''}`;
}

/** What a decider is told after approving or rejecting. */
export function decisionMessage(r: DeploymentRequest, decision: 'approve' | 'reject' | 'withdraw'): string {
  if (decision === 'withdraw') return `Withdrew your ${describeChange(r)}.`;
  if (decision === 'reject') return `Rejected the ${describeChange(r)} requested by ${r.requested_by}.`;
  if (r.status === 'applied') return `${appliedText(r)}: yours was the final approval.`;
  return `Approved the ${describeChange(r)}; it needs ${plural(r.required_approvals - r.approvals, 'more approval')}.`;
}
