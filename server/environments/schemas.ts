import { z } from 'zod';
import { environmentName } from '../http/schemas.js';

export const environmentParams = z.object({ name: environmentName });

/** The deploy gate: a version may go live only after a completed experiment on `dataset` that ran it passed `min_pass_rate`. */
export const evaluationRequirement = z
  .object({
    dataset: z.string().min(1).max(100).describe('The dataset the experiment ran on (any of its versions)'),
    min_pass_rate: z.number().min(0, 'min_pass_rate is 0 to 1').max(1, 'min_pass_rate is 0 to 1').describe("The version's pass rate in the experiment must be at least this"),
    evaluators: z
      .array(z.string().min(1).max(100))
      .min(1, 'evaluators names at least one evaluator, or leave it out')
      .max(20, 'at most 20 evaluators')
      .optional()
      .describe("Evaluators the experiment must have run, each with the version's mean score at least min_pass_rate"),
    max_age_days: z.number().int('max_age_days is a whole number').min(1, 'max_age_days is 1 to 3650').max(3650, 'max_age_days is 1 to 3650').optional().describe('Only experiments finished within this many days count'),
  })
  .strict();

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
    evaluation: evaluationRequirement.nullable().default(null).describe('A passing experiment a version needs before it is deployed here (null: none)'),
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
  evaluation: evaluationRequirement.nullable(),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
}).meta({ id: 'EnvironmentPolicy' });

export type PolicyView = z.infer<typeof policySchema>;
