/** The Prompt Registry client for TypeScript and JavaScript applications. */
export {
  RegistryApi,
  type Deployment,
  type DeploymentRequest,
  type DeployResult,
  type EnvironmentPolicy,
  type Me,
  type NewVersion,
  type Page,
  type PolicyInput,
  type PromptSummary,
  type RequestDecision,
  type RequestFilter,
  type VersionInfo,
} from './api.js';
export { PromptRegistryClient, type RenderedPrompt } from './client.js';
export { PromptNotFoundError, RegistryError, RegistryUnreachableError, TemplateError } from './errors.js';
export type { LoggerStats } from './executions.js';
export { EventSubscription, type EventHandlers, type RegistryEvent } from './events.js';
export type { ClientOptions, ExecutionInput, ExecutionResult, FallbackPrompt, GetOptions, LoggingOptions, Prompt, PromptSource, Pricing } from './types.js';
