export { compileTemplate, extractVariables, SUPPORTED_HELPERS } from './engine.js';
export type { CompiledTemplate } from './engine.js';
export { TemplateError } from './errors.js';
