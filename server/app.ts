import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { approvalRoutes } from './approvals/routes.js';
import { ApprovalService } from './approvals/service.js';
import { auditRoutes } from './audit/routes.js';
import { FailedAuthLimiter } from './auth/failures.js';
import { OidcVerifier, type OidcConfig } from './auth/oidc.js';
import { CredentialRateLimiter } from './auth/rate-limit.js';
import { authRoutes } from './auth/routes.js';
import { changeRoutes } from './changes/routes.js';
import { requireScope } from './auth/principal.js';
import type { Database } from './db/index.js';
import { resolveFastPath } from './deployments/resolve-fast-path.js';
import { deploymentRoutes } from './deployments/routes.js';
import { DeploymentService } from './deployments/service.js';
import { ChangeFeed } from './events.js';
import { environmentRoutes } from './environments/routes.js';
import { EnvironmentService } from './environments/service.js';
import { authenticator, type Authenticator } from './http/auth.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { healthRoutes, type Lifecycle } from './http/health.js';
import { OperatorMetrics } from './http/prometheus.js';
import { jsonBody } from './http/json-limits.js';
import { HitCounter, requestLog } from './http/request-log.js';
import { openApiDocument } from './http/openapi.js';
import { setSecurityHeaders } from './http/security-headers.js';
import { defineRoute, parseInput, successStatus, type Context, type Route } from './http/route.js';
import { executionRoutes } from './executions/routes.js';
import { ExecutionService } from './executions/service.js';
import { keyRoutes } from './keys/routes.js';
import { KeyService } from './keys/service.js';
import { mcpRoutes } from './mcp/routes.js';
import { metricRoutes } from './metrics/routes.js';
import { MetricService } from './metrics/service.js';
import { promptRoutes } from './prompts/routes.js';
import { PromptService } from './prompts/service.js';
import { retentionRoutes } from './retention/routes.js';
import { rolloutRoutes } from './rollouts/routes.js';
import { RolloutService } from './rollouts/service.js';
import { RetentionService } from './retention/service.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS, TemplatePool, type TemplatePoolOptions } from './templates/pool.js';
import type { ServerSecret } from './secret.js';
import { VERSION } from './version.js';
import { webhookRoutes } from './webhooks/routes.js';
import { WebhookService } from './webhooks/service.js';
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from './webhooks/worker.js';
import { DEFAULT_PROVIDER_CALL_OPTIONS, type ProviderCallOptions } from './providers/client.js';
import { providerRoutes } from './providers/routes.js';
import { ProviderService } from './providers/service.js';
import { datasetRoutes } from './datasets/routes.js';
import { DatasetService } from './datasets/service.js';
import { evaluatorRoutes } from './evaluators/routes.js';
import { experimentRoutes } from './experiments/routes.js';
import { DEFAULT_EXPERIMENT_OPTIONS, ExperimentService, type ExperimentOptions } from './experiments/service.js';
import { runRoutes } from './runs/routes.js';
import { RunService } from './runs/service.js';

export interface AppOptions {
  environments: readonly string[];
  /** Largest JSON body accepted, e.g. '1mb'. */
  bodyLimit: string;
  /** Entries in the resolve cache; 0 turns it off. */
  resolveCacheSize: number;
  /** Log one line per request (info level); cached resolve answers are counted instead (below). */
  logRequests: boolean;
  /** Also log a line for each resolve answered from the cache. */
  logResolveHits: boolean;
  /** How often an idle event stream gets a keep-alive comment. */
  eventHeartbeatMs: number;
  /** Largest JSON body POST /executions accepts (a batch of up to 1,000), e.g. '10mb'. */
  ingestBodyLimit: string;
  /** How often the server applies the retention policies, in minutes; 0 never (use `prompt-registry purge`). */
  retentionIntervalMinutes: number;
  /** OpenID Connect bearer tokens beside API keys; undefined: API keys only. */
  oidc?: OidcConfig | undefined;
  /** Failed authentications a client address may make per window before they answer 429; 0 no limit. */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** Requests a second each credential (API key, bearer subject) may send before 429, per server process; 0 no limit. */
  rateLimit: number;
  /** Requests a credential may send at once, after a quiet spell, before its rate applies. */
  rateLimitBurst: number;
  /** Express's `trust proxy`: which proxies' X-Forwarded-For names the client address (rate limiting, logs). */
  trustProxy: boolean | number | string;
  /** Template budgets and the worker pool that compiles and renders (docs/templates.md, "Limits"). */
  templates: TemplatePoolOptions;
  /** Keep the Prometheus operator metrics (served by main.ts on the management port). */
  operatorMetrics: boolean;
  /** Webhook delivery: the address allow-list, timeout and retry timing (docs/webhooks.md). */
  webhooks: WebhookOptions;
  /** Calls to model providers: timeout, retries, backoff (docs/evaluate.md). */
  providerCalls: ProviderCallOptions;
  /** Largest dataset file (CSV, JSON Lines) POST /datasets/{name}/import reads, in bytes. */
  importBodyLimitBytes: number;
  /** The background experiment runner: lease, polling, experiments at once per server (docs/evaluate.md). */
  experiments: ExperimentOptions;
}

export const DEFAULT_APP_OPTIONS: AppOptions = {
  environments: ['dev', 'staging', 'production'],
  bodyLimit: '1mb',
  resolveCacheSize: 50_000,
  logRequests: true,
  logResolveHits: false,
  eventHeartbeatMs: 15_000,
  ingestBodyLimit: '10mb',
  retentionIntervalMinutes: 60,
  authFailureLimit: 20,
  authFailureWindowMs: 60_000,
  rateLimit: 100,
  rateLimitBurst: 300,
  trustProxy: false,
  templates: DEFAULT_TEMPLATE_POOL_OPTIONS,
  operatorMetrics: false,
  webhooks: DEFAULT_WEBHOOK_OPTIONS,
  providerCalls: DEFAULT_PROVIDER_CALL_OPTIONS,
  importBodyLimitBytes: 20 * 1024 * 1024,
  experiments: DEFAULT_EXPERIMENT_OPTIONS,
};

export interface Services {
  db: Database;
  feed: ChangeFeed;
  keys: KeyService;
  prompts: PromptService;
  /** Compiles and renders off the event loop; closed with the server. */
  templates: TemplatePool;
  deployments: DeploymentService;
  executions: ExecutionService;
  metrics: MetricService;
  retention: RetentionService;
  environments: EnvironmentService;
  approvals: ApprovalService;
  /** Webhooks and their delivery worker (started by main.ts, stopped on shutdown). */
  webhooks: WebhookService;
  rollouts: RolloutService;
  /** Model providers (admin), and running prompts on them. */
  providers: ProviderService;
  runs: RunService;
  datasets: DatasetService;
  /** Experiments and their background runner (started by main.ts, stopped on shutdown). */
  experiments: ExperimentService;
  oidc: OidcVerifier | undefined;
}

export interface Registry {
  app: Express;
  /**
   * The HTTP server's request handler: cached resolve answers first, in
   * node:http's own handler, then Express for everything else.
   */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  services: Services;
  routes: Route[];
  /** Set `draining` to fail readiness while shutting down. */
  lifecycle: Lifecycle;
  /** The Prometheus metrics, when `operatorMetrics`. */
  operatorMetrics: OperatorMetrics | undefined;
}

function systemRoutes(document: () => unknown): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      summary: 'This OpenAPI 3.1 document',
      tag: 'system',
      scope: 'read',
      responses: { 200: { description: 'The OpenAPI document' } },
      handler: () => document(),
    }),
  ];
}

/** Runs a body parser as a step: the body is read only once the caller is known. */
function readBody(parser: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    void parser(req, res, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}

function handle(route: Route, auth: Authenticator, parser: RequestHandler): RequestHandler {
  const success = successStatus(route);
  return async (req: Request, res: Response) => {
    const principal = route.scope === 'none' ? undefined : await auth.authenticate(req, res);
    await readBody(parser, req, res);
    const input = parseInput(route, req) as Parameters<Route['handler']>[0];
    if (principal && route.scope !== 'authenticated') requireScope(principal, typeof route.scope === 'function' ? route.scope(input) : route.scope);
    let status = success;
    const ctx: Context = { req, res, principal: principal!, status: (code) => (status = code) };
    const result = await route.handler(input, ctx);
    if (res.headersSent || res.writableEnded) return;
    res.status(status).json(result);
  };
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Request ids: a random prefix per process and a counter, unique across replicas and restarts
 * without a UUID's random bytes on every request (the resolve fast path answers in microseconds).
 */
const REQUEST_ID_PREFIX = randomBytes(6).toString('hex');
let requestCounter = 0;
const nextRequestId = (): string => `${REQUEST_ID_PREFIX}-${(++requestCounter).toString(36)}`;

/** Builds the services and the Express app over an open, migrated database; `secret` keys API key hashes. */
export async function createApp(db: Database, logger: Logger, secret: ServerSecret, options: Partial<AppOptions> = {}): Promise<Registry> {
  const opts = { ...DEFAULT_APP_OPTIONS, ...options };
  // After-commit work (change feed subscribers) runs once the change is stored: a failure is logged, never answered.
  db.onAfterCommitError((err, what) => logger.error({ err, after_commit: what }, 'after-commit work failed; the change it followed is committed'));
  const feed = new ChangeFeed(db);
  await feed.start();
  const keys = new KeyService(db, feed, secret);
  const templates = new TemplatePool(opts.templates);
  const prompts = new PromptService(db, feed, templates, opts.environments);
  const environments = new EnvironmentService(db, opts.environments);
  const deployments = new DeploymentService(db, feed, environments, opts.resolveCacheSize);
  const metrics = new MetricService(db);
  const executions = new ExecutionService(db, deployments, metrics);
  const retention = new RetentionService(db, { batchSize: 1_000, environments: opts.environments });
  const approvals = new ApprovalService(db, feed, environments, deployments.path);
  const webhooks = new WebhookService(db, feed, secret, opts.webhooks, logger);
  const rollouts = new RolloutService(db, feed, deployments, (err) => logger.error({ err }, 'rollout guard check failed'));
  executions.onStored.push((records) => rollouts.executionsStored(records));
  const providers = new ProviderService(db, secret, opts.providerCalls);
  const runs = new RunService(prompts, deployments, executions, providers);
  const datasets = new DatasetService(db, executions);
  const experiments = new ExperimentService(db, prompts, providers, runs, metrics, logger, opts.experiments, feed.wakeup('experiments'));
  const oidc = opts.oidc ? new OidcVerifier(opts.oidc) : undefined;
  const auth = authenticator(keys, oidc, new FailedAuthLimiter(opts.authFailureLimit, opts.authFailureWindowMs), new CredentialRateLimiter(opts.rateLimit, opts.rateLimitBurst), logger);

  let document: unknown;
  const routes: Route[] = [
    // The resolve route first: it is the hot path, and Express matches in order.
    ...deploymentRoutes(deployments),
    ...promptRoutes(prompts, deployments),
    ...changeRoutes(feed, keys, opts.eventHeartbeatMs),
    ...keyRoutes(keys),
    ...authRoutes(oidc, environments),
    ...environmentRoutes(environments),
    ...approvalRoutes(approvals),
    ...auditRoutes(db),
    ...executionRoutes(executions, { ingestBodyLimit: opts.ingestBodyLimit }),
    ...metricRoutes(metrics),
    ...retentionRoutes(retention),
    ...mcpRoutes({ feed, keys, prompts, deployments, routes: () => routes, logger, heartbeatMs: opts.eventHeartbeatMs }),
    ...webhookRoutes(webhooks),
    ...rolloutRoutes(rollouts),
    ...providerRoutes(providers),
    ...runRoutes(runs),
    ...datasetRoutes(datasets, { importBodyLimitBytes: opts.importBodyLimitBytes }),
    ...evaluatorRoutes(),
    ...experimentRoutes(experiments),
  ];
  const lifecycle: Lifecycle = { draining: false };
  routes.push(...healthRoutes(db, lifecycle), ...systemRoutes(() => (document ??= openApiDocument(routes, { version: VERSION }))));
  const operatorMetrics = opts.operatorMetrics
    ? new OperatorMetrics({ db, resolveCache: deployments.cache, ingested: executions.ingested, feed, outboxDepth: () => webhooks.outboxDepth() })
    : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags are ours to set, on the resolve route.
  // The simple parser (node:querystring) gives repeated keys as arrays, all we need; qs cost 5 µs a request.
  app.set('query parser', 'simple');
  app.set('trust proxy', opts.trustProxy);
  // One front layer (each Express layer costs a hop on the hot path): request id and security
  // headers, then cached resolve answers for recently verified credentials, before the router. Those hits are
  // counted in a line a minute rather than logged one by one (unless logResolveHits): at
  // thousands a second they would be most of the log and a third of the work.
  const logRequest = opts.logRequests ? requestLog(logger) : undefined;
  const logEachHit = opts.logRequests && opts.logResolveHits;
  const fastPath = opts.resolveCacheSize > 0 ? resolveFastPath(deployments, auth) : undefined;
  const hits = opts.logRequests && !logEachHit ? new HitCounter(logger) : undefined;
  // Every answer: a request id and the security headers. Then a cached resolve answer for a
  // recently verified credential is sent here, before Express (whose own request set-up would
  // cost more than the answer); anything else goes on to Express.
  const front = (req: IncomingMessage, res: ServerResponse): boolean => {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId();
    if (logEachHit) logRequest!(req, res, requestId);
    if (fastPath?.(req, res, requestId)) {
      operatorMetrics?.observe(req, res, true);
      hits?.count();
      return true;
    }
    res.setHeader('X-Request-Id', requestId);
    setSecurityHeaders(res);
    operatorMetrics?.observe(req, res);
    if (!logEachHit) logRequest?.(req, res, requestId);
    return false;
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!front(req, res)) app(req, res);
  };
  // JSON bodies are parsed per route, with the route's limit (POST /executions takes batches).
  const parsers = new Map<string, RequestHandler>();
  const jsonParser = (limit: string) => {
    let parser = parsers.get(limit);
    if (!parser) parsers.set(limit, (parser = jsonBody(limit)));
    return parser;
  };
  for (const route of routes) app[route.method](route.path, handle(route, auth, jsonParser(route.bodyLimit ?? opts.bodyLimit)));
  app.use(notFoundHandler);
  app.use(errorHandler(logger, operatorMetrics && (() => operatorMetrics.databaseUnavailable())));

  const services = { db, feed, keys, prompts, templates, deployments, executions, metrics, retention, environments, approvals, webhooks, rollouts, providers, runs, datasets, experiments, oidc };
  return { app, handler, services, routes, lifecycle, operatorMetrics };
}
