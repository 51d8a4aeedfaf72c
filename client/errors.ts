export { TemplateError } from '../shared/templates/index.js';

/** An answer from the registry that is an error: carries the server's code and message. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** The prompt does not exist, or nothing of it is deployed in the environment asked for. */
export class PromptNotFoundError extends RegistryError {
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(status, code, message, details);
    this.name = 'PromptNotFoundError';
  }
}

/** The registry could not be reached (network error, timeout, or a 5xx), and no fallback was available. */
export class RegistryUnreachableError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'RegistryUnreachableError';
  }
}

/**
 * Render input the prompt refuses, found before rendering: `invalid_variables` (against its input
 * schema), `invalid_placeholders` (a message that is not {role, content}) or `unknown_placeholder`.
 * `field` names it, as the registry does: `variables.age`, `placeholders.history[1].role`.
 */
export class InvalidInputError extends Error {
  constructor(
    readonly code: 'invalid_variables' | 'invalid_placeholders' | 'unknown_placeholder',
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}
