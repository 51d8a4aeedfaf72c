import { z } from 'zod';
import { environmentName } from '../http/schemas.js';

export const environmentParams = z.object({ name: environmentName });

export const policyBody = z
  .object({
    deploy_scopes: z.array(z.string().max(60)).max(20).default([]),
    required_approvals: z.number().int().min(0, 'required_approvals is 0 (no approval) to 10').max(10, 'required_approvals is 0 (no approval) to 10').default(0),
    approval_ttl_hours: z.number().int().min(1).max(2160, 'approval_ttl_hours is at most 2160 (90 days)').default(72),
  })
  .strict();

export const policySchema = z.object({
  environment: z.string(),
  protected: z.boolean(),
  deploy_scopes: z.array(z.string()),
  required_approvals: z.number().int(),
  approval_ttl_hours: z.number().int(),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});

export type PolicyView = z.infer<typeof policySchema>;
