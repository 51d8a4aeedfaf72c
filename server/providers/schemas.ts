import { z } from 'zod';
import { cursorParam, limit, text } from '../http/schemas.js';

export const PROVIDER_KINDS = ['openai', 'anthropic'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export const providerName = z
  .string()
  .min(1, 'a provider name is required')
  .max(100, 'a provider name is at most 100 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a provider name starts with a letter or digit and has only letters, digits, '.', '_' and '-'");

const kind = z.enum(PROVIDER_KINDS, { error: 'kind is "openai" (Chat Completions, any compatible base URL) or "anthropic" (Messages)' });
const baseUrl = text(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL, e.g. https://api.openai.com/v1')
  .nullable();
const apiKey = text(4096).min(1, 'an api_key is not empty (null removes it)').nullable();
const model = text(255).min(1).nullable();
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const headers = z
  .record(z.string().regex(HEADER_NAME, 'a header name is an HTTP token').max(100), text(4096).regex(/^[^\r\n]*$/, 'a header value is one line'))
  .refine((h) => Object.keys(h).length <= 50, 'at most 50 headers');
const price = z
  .object({
    input_per_million: z.number().min(0).max(1e6).describe('USD per million input tokens'),
    output_per_million: z.number().min(0).max(1e6).describe('USD per million output tokens'),
  })
  .strict();
const prices = z.record(text(255).min(1), price).refine((p) => Object.keys(p).length <= 500, 'at most 500 models priced');
export type Prices = z.infer<typeof prices>;

export const createBody = z
  .object({
    name: providerName,
    kind,
    base_url: baseUrl.optional(),
    api_key: apiKey.optional(),
    default_model: model.optional(),
    headers: headers.optional(),
    prices: prices.optional(),
  })
  .strict();

export const patchBody = z
  .object({
    base_url: baseUrl.optional(),
    api_key: apiKey.optional(),
    default_model: model.optional(),
    headers: headers.optional(),
    prices: prices.optional(),
  })
  .strict();

export type CreateProviderInput = z.infer<typeof createBody>;
export type PatchProviderInput = z.infer<typeof patchBody>;

export const nameParams = z.object({ name: providerName });
export const listQuery = z.object({ limit, cursor: cursorParam });

export const providerSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(PROVIDER_KINDS),
  base_url: z.string().nullable().describe('null: the kind\'s public endpoint'),
  has_api_key: z.boolean().describe('Whether a key is stored; the key itself is never answered'),
  default_model: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  prices: z.record(z.string(), price),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
});
