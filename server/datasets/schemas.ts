import { z } from 'zod';
import { cursorParam, jsonObject, limit, positiveInt, text } from '../http/schemas.js';

export const datasetName = z
  .string()
  .min(1, 'a dataset name is required')
  .max(255, 'a dataset name is at most 255 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a dataset name starts with a letter or digit and has only letters, digits, '.', '_' and '-'");

/** One item: the variables a prompt is run with, what it should answer (any JSON), and free metadata. */
export const itemInput = z
  .object({
    input: jsonObject.describe('The variables, by name'),
    expected: z.unknown().optional().refine((v) => v === undefined || !JSON.stringify(v).includes('\\u0000'), 'must not contain NUL characters'),
    metadata: jsonObject.optional(),
  })
  .strict();
export type ItemInput = z.infer<typeof itemInput>;

export const createBody = z.object({ name: datasetName, description: text(2000).nullable().optional() }).strict();
export const addItemsBody = z.object({ items: z.array(itemInput).min(1, 'give at least one item').max(1_000, 'at most 1,000 items at once (import a file for more)') }).strict();
export const fromExecutionBody = z
  .object({
    expected: z.unknown().optional().describe("Default: the execution's response"),
    metadata: jsonObject.optional(),
  })
  .strict();

export const nameParams = z.object({ name: datasetName });
export const executionParams = z.object({ name: datasetName, id: z.uuid('must be a UUID').transform((s) => s.toLowerCase()) });
export const listQuery = z.object({ limit, cursor: cursorParam });
export const itemsQuery = z.object({ version: positiveInt.optional(), limit, cursor: cursorParam });
export const importQuery = z.object({ format: z.enum(['jsonl', 'csv']).optional().describe('Default: from the Content-Type (text/csv is CSV, anything else JSON Lines)') });
export const exportQuery = z.object({ format: z.enum(['jsonl', 'csv']).default('jsonl'), version: positiveInt.optional() });

export const datasetSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  version: z.number().int().describe('Bumped by every change to the items; 0 while empty'),
  item_count: z.number().int(),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Dataset' });

export const itemSchema = z.object({
  id: z.string(),
  seq: z.number().int().describe('Position in the dataset, from 1'),
  added_in: z.number().int().describe('The dataset version that added it'),
  input: z.record(z.string(), z.unknown()),
  expected: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  source_execution_id: z.string().nullable(),
  created_at: z.string(),
}).meta({ id: 'DatasetItem' });

export const addedSchema = z.object({
  dataset: z.string(),
  version: z.number().int().describe('The dataset version these items made'),
  added: z.number().int(),
  item_count: z.number().int(),
}).meta({ id: 'DatasetItemsAdded' });
