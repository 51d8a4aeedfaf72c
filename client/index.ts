/** The Prompt Registry client for TypeScript and JavaScript applications. */
export {
  RegistryApi,
  type Comparison,
  type Deployment,
  type DeploymentRequest,
  type DeployResult,
  type EnvironmentPolicy,
  type ExecutionDetail,
  type ExecutionFilter,
  type ExecutionRecord,
  type ExecutionSummary,
  type IngestResult,
  type Me,
  type Metric,
  type MetricStats,
  type MetricType,
  type NewMetric,
  type NewScore,
  type NewVersion,
  type Page,
  type PolicyInput,
  type PromptStats,
  type PromptSummary,
  type RequestDecision,
  type RequestFilter,
  type Score,
  type ScoreSource,
  type SeriesPoint,
  type StatsInterval,
  type StatsWindow,
  type VersionInfo,
  type VersionStats,
} from './api.js';
export { PromptRegistryClient, type RenderedPrompt } from './client.js';
export { PromptNotFoundError, RegistryError, RegistryUnreachableError, TemplateError } from './errors.js';
export { DEFAULT_TEMPLATE_LIMITS, type TemplateLimits } from '../server/templates/index.js';
export type { LoggerStats } from './executions.js';
export { EventSubscription, type EventHandlers, type RegistryEvent } from './events.js';
export type { ClientOptions, ExecutionInput, ExecutionResult, FallbackPrompt, GetOptions, LoggingOptions, Prompt, PromptSource, Pricing } from './types.js';
export type { BearerTokens } from './http.js';
export {
  DEFAULT_SCOPES,
  OAuthError,
  SignInCancelledError,
  discover,
  identityOf,
  parseSession,
  pollDeviceToken,
  readAuthConfig,
  refreshAt,
  refreshTokens,
  requestDeviceAuthorization,
  resolveOidcConfig,
  revokeToken,
  toSession,
  type DeviceAuthorization,
  type Identity,
  type OidcConfig,
  type ProviderMetadata,
  type StoredSession,
  type TokenSet,
} from './oauth.js';
