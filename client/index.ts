/** The Prompt Registry client for TypeScript and JavaScript applications. */
export { RegistryApi, type Deployment, type NewVersion, type Page, type PromptSummary, type VersionInfo } from './api.js';
export { PromptRegistryClient, type RenderedPrompt } from './client.js';
export { PromptNotFoundError, RegistryError, RegistryUnreachableError, TemplateError } from './errors.js';
export type { LoggerStats } from './executions.js';
export type { RegistryEvent } from './events.js';
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
