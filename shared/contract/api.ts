// Named access to the generated API types (api.gen.ts, from the server's zod declarations).
import type { components, operations } from './api.gen.js';

export type { components, operations, paths } from './api.gen.js';

/** The answer schemas the server names (`.meta({ id })` in server/*\/schemas.ts). */
export type Schemas = components['schemas'];

type JsonContent<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON body an operation takes, by operationId (request bodies are not named schemas). */
export type RequestBody<Op extends keyof operations> = operations[Op] extends { requestBody?: infer R } ? JsonContent<NonNullable<R>> : never;

/** The JSON answer of an operation for a status (default 200). */
export type ResponseBody<Op extends keyof operations, Status extends number = 200> = operations[Op]['responses'] extends infer R
  ? Status extends keyof R
    ? JsonContent<R[Status]>
    : never
  : never;
