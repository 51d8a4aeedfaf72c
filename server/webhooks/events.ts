import { decisionsFor, getRequest } from '../approvals/repository.js';
import type { Transaction } from '../db/index.js';
import { nullableTimestamp, timestamp } from '../db/values.js';
import type { ChangeEvent } from '../events.js';

import type { WebhookEvent } from '../../shared/contract/events.js';

/** The event types a webhook can subscribe to (`*` is every one): the contract's list. */
export { WEBHOOK_EVENTS, type WebhookEvent } from '../../shared/contract/events.js';

/** Which webhook event a committed change is, if any. */
const FROM_CHANGE: Partial<Record<ChangeEvent['type'], WebhookEvent>> = {
  'version.created': 'version.created',
  'deployment.created': 'deployment.deployed',
  'deployment.rolled_back': 'deployment.rolled_back',
  'deployment_request.created': 'approval.requested',
  'deployment_request.decided': 'approval.decided',
};

export function webhookEventOf(change: ChangeEvent): WebhookEvent | undefined {
  return FROM_CHANGE[change.type];
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The live deployment of a prompt in an environment, as the change's transaction sees it (the one it just made). */
async function liveDeployment(tx: Transaction, prompt: string, environment: string) {
  const row = await tx.get<Record<string, unknown>>(
    `SELECT d.id, d.prompt_version_id, d.deployed_by, d.deployed_at, d.rollback_of, v.version_number,
            (SELECT pv.version_number FROM prompt_deployments pd JOIN prompt_versions pv ON pv.id = pd.prompt_version_id
              WHERE pd.id = d.previous_deployment_id) AS previous_version,
            (SELECT rv.version_number FROM prompt_deployments rd JOIN prompt_versions rv ON rv.id = rd.prompt_version_id
              WHERE rd.id = d.rollback_of) AS rolled_back_version
       FROM prompt_deployments d JOIN prompts p ON p.id = d.prompt_id JOIN prompt_versions v ON v.id = d.prompt_version_id
      WHERE p.name = $1 AND d.environment = $2 AND d.is_active`,
    [prompt, environment],
  );
  return row;
}

/**
 * The `data` of a webhook payload, read inside the change's own transaction
 * (so it is exactly what committed with it). Stable shapes, one per type
 * (docs/webhooks.md lists them); fields are only ever added.
 */
export async function payloadData(tx: Transaction, type: WebhookEvent, change: ChangeEvent): Promise<Record<string, unknown>> {
  switch (type) {
    case 'version.created': {
      const v = await tx.get<Record<string, unknown>>(
        `SELECT v.id, v.content_hash, v.model, v.created_by, v.created_at, v.message
           FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id WHERE p.name = $1 AND v.version_number = $2`,
        [change.prompt, change.version],
      );
      return {
        prompt: change.prompt,
        version: change.version,
        version_id: v ? String(v.id) : null,
        content_hash: v ? String(v.content_hash) : null,
        model: v ? String(v.model) : null,
        message: (v?.message as string | null) ?? null,
        created_by: v ? String(v.created_by) : null,
        created_at: v ? timestamp(v.created_at) : change.at,
      };
    }
    case 'deployment.deployed':
    case 'deployment.rolled_back': {
      const d = await liveDeployment(tx, change.prompt!, change.environment!);
      const common = {
        prompt: change.prompt,
        environment: change.environment,
        version: d ? Number(d.version_number) : change.version,
        version_id: d ? String(d.prompt_version_id) : null,
        deployment_id: d ? String(d.id) : null,
        deployed_by: d ? String(d.deployed_by) : null,
        deployed_at: d ? timestamp(d.deployed_at) : change.at,
      };
      return type === 'deployment.deployed'
        ? { ...common, previous_version: num(d?.previous_version) }
        : { ...common, rolled_back_version: num(d?.rolled_back_version), rollback_of: (d?.rollback_of as string | null) ?? null };
    }
    case 'approval.requested':
    case 'approval.decided': {
      const r = await getRequest(tx, change.request_id!);
      const base = {
        request_id: change.request_id,
        prompt: change.prompt,
        environment: change.environment,
        action: r?.action ?? null,
        version: change.version,
        from_version: r?.from_version ?? null,
        requested_by: r?.requested_by ?? null,
        required_approvals: r?.required_approvals ?? null,
        comment: r?.comment ?? null,
      };
      if (type === 'approval.requested') return { ...base, status: 'pending', requested_at: r?.requested_at ?? change.at, expires_at: r?.expires_at ?? null };
      const decisions = r ? await decisionsFor(tx, [r.id]) : [];
      return {
        ...base,
        status: change.status,
        decided_at: nullableTimestamp(r?.decided_at) ?? change.at,
        deployment_id: r?.deployment_id ?? null,
        decisions: decisions.map((d) => ({ actor: d.actor, decision: d.decision, comment: d.comment, decided_at: d.decided_at })),
      };
    }
    case 'rollout.changed':
      return { ...change };
  }
}
