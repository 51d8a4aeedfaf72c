import { z } from 'zod';
import { cursorParam, environmentName, limit, promptName, text, uuid } from '../http/schemas.js';
import { guardSchema } from '../rollouts/schemas.js';

export const requestParams = z.object({ id: uuid });

export const decisionBody = z.object({ comment: text(2000).optional() }).strict();

export const requestStatus = z.enum(['pending', 'rejected', 'expired', 'applied']);

export const listQuery = z.object({
  status: requestStatus.optional(),
  prompt: promptName.optional(),
  environment: environmentName.optional(),
  requested_by: text(255).optional(),
  limit,
  cursor: cursorParam,
});

export const decisionSchema = z.object({
  actor: z.string(),
  credential: z.string(),
  decision: z.enum(['approve', 'reject']),
  comment: z.string().nullable(),
  decided_at: z.string(),
}).meta({ id: 'RequestDecision' });

export const requestSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  environment: z.string(),
  action: z.enum(['deploy', 'rollback', 'rollout_start', 'rollout_abort']).describe('rollout_start: start (or re-weight) a rollout of `version`; rollout_abort: abort the rollout of `version`'),
  version: z.number().int(),
  from_version: z.number().int().nullable(),
  comment: z.string().nullable(),
  requested_by: z.string(),
  requested_credential: z.string(),
  requested_at: z.string(),
  expires_at: z.string(),
  status: requestStatus,
  required_approvals: z.number().int(),
  approvals: z.number().int(),
  decisions: z.array(decisionSchema),
  decided_at: z.string().nullable(),
  deployment_id: z.string().nullable(),
  live_version: z.number().int().nullable(),
  outdated: z.boolean(),
  /** Rollout requests: the weight and guard asked for (rollout_start), the rollout to abort (rollout_abort). */
  rollout: z.object({ weight: z.number().int().nullable(), guard: guardSchema.nullable(), id: z.string().nullable() }).optional(),
}).meta({ id: 'DeploymentRequest' });

export type RequestView = z.infer<typeof requestSchema>;
