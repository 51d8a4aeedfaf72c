import { z } from 'zod';
import { environmentName } from '../http/schemas.js';

export const environmentParams = z.object({ name: environmentName });

/**
 * `require_approval: true` alone means one approval; `required_approvals`
 * sets how many (0: none). Given both, they must agree.
 */
export const policyBody = z
  .object({
    deploy_scopes: z.array(z.string().max(60)).max(20).default([]),
    require_approval: z.boolean().optional(),
    required_approvals: z.number().int().min(0, 'required_approvals is 0 (no approval) to 10').max(10, 'required_approvals is 0 (no approval) to 10').optional(),
    approval_ttl_hours: z.number().int().min(1).max(2160, 'approval_ttl_hours is at most 2160 (90 days)').default(72),
  })
  .strict()
  .refine((b) => b.require_approval === undefined || b.required_approvals === undefined || b.require_approval === b.required_approvals > 0, {
    message: 'require_approval and required_approvals disagree: require_approval true needs required_approvals of 1 or more, false needs 0',
    path: ['required_approvals'],
  })
  .transform(({ require_approval, required_approvals, ...rest }) => ({
    ...rest,
    required_approvals: required_approvals ?? (require_approval ? 1 : 0),
  }));

export const policySchema = z.object({
  environment: z.string(),
  protected: z.boolean(),
  require_approval: z.boolean(),
  deploy_scopes: z.array(z.string()),
  required_approvals: z.number().int(),
  approval_ttl_hours: z.number().int(),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});

export type PolicyView = z.infer<typeof policySchema>;
