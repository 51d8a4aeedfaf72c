/**
 * Template errors carry a stable code and the details a person needs to fix
 * the template or the call. The server maps them to 422; the clients rethrow them.
 */
export type TemplateErrorCode =
  | 'template_syntax_error'
  | 'template_unsupported'
  | 'missing_variable'
  | 'invalid_variable'
  /** A partial the template includes was not given to the render. */
  | 'missing_partial'
  /** Beyond a compile limit: details {limit: "size" | "tags" | "depth", max}. */
  | 'template_too_large'
  /** A render ran out of its budget: details {limit: "iterations" | "output" | "time", max}. */
  | 'render_too_large';

export class TemplateError extends Error {
  constructor(
    readonly code: TemplateErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export function syntaxError(message: string, line: number, column: number): TemplateError {
  return new TemplateError('template_syntax_error', `template syntax error at line ${line}, column ${column}: ${message}`, { line, column });
}

export function unsupported(what: string, line: number, column: number): TemplateError {
  return new TemplateError('template_unsupported', `${what} at line ${line}, column ${column} is not supported in prompt templates`, { line, column });
}
