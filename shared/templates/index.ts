export { analyzeTemplate, compileTemplate, extractVariables, JSON_MAX_NESTING, renderTemplates, SUPPORTED_HELPERS } from './engine.js';
export type { CompiledTemplate, VariableOccurrence } from './engine.js';
export { TemplateError } from './errors.js';
export { DEFAULT_TEMPLATE_LIMITS, templateLimits, type TemplateLimits } from './limits.js';
