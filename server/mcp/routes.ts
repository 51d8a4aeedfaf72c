import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { watchCredential, type KeyLiveness } from '../changes/credentials.js';
import type { DeploymentService } from '../deployments/service.js';
import type { ChangeFeed } from '../events.js';
import { invalid } from '../errors.js';
import { defineRoute, type Context, type Route } from '../http/route.js';
import { environmentName, errorSchema } from '../http/schemas.js';
import type { PromptService } from '../prompts/service.js';
import { localRegistry } from './local.js';
import { announceLiveChange, changesLivePrompts, createMcpServer } from './server.js';

const err = (description: string) => ({ description, schema: errorSchema });

const mcpQuery = z.object({
  /** Whose live prompts are the MCP prompts (default production). */
  environment: environmentName.optional(),
});

/** A JSON-RPC message (or a batch); the MCP SDK checks the rest and answers JSON-RPC errors. */
const jsonRpcMessage = z.looseObject({ jsonrpc: z.literal('2.0', { error: 'must be "2.0" (a JSON-RPC 2.0 message)' }) });
const mcpBody = z.union([jsonRpcMessage, z.array(jsonRpcMessage).min(1).max(100)], {
  error: 'must be a JSON-RPC 2.0 message ({"jsonrpc": "2.0", "method": ...}) or a batch of them',
});

/** A JSON-RPC answer: a result or an error for the request's id. */
const jsonRpcAnswer = z.looseObject({ jsonrpc: z.literal('2.0'), id: z.union([z.string(), z.number(), z.null()]) });

/**
 * The SDK wants the Accept header to name what it may answer. POSTs are answered with JSON whatever
 * the client accepts; a GET is a stream, so its Accept must allow one (absent or a wildcard does):
 * otherwise a 400 in our error shape, not the SDK's JSON-RPC 406.
 */
function negotiate(req: Request): void {
  let value = 'application/json, text/event-stream';
  if (req.method === 'GET') {
    const accept = req.headers.accept;
    if (accept && !/text\/event-stream|text\/\*|\*\/\*/.test(accept)) {
      throw invalid('not_acceptable', `GET /mcp is the MCP notification stream (Server-Sent Events): send Accept: text/event-stream, not "${accept.slice(0, 100)}"`);
    }
    value = 'text/event-stream';
  }
  const kept: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() !== 'accept') kept.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  req.rawHeaders = [...kept, 'Accept', value];
  req.headers.accept = value;
}

export interface McpDeps {
  feed: ChangeFeed;
  keys: KeyLiveness;
  prompts: PromptService;
  deployments: DeploymentService;
  /** The app's routes: prompts/get runs the render route's declaration. */
  routes: () => Route[];
  logger: Logger;
  /** How often an idle notification stream gets a keep-alive comment. */
  heartbeatMs: number;
}

/**
 * `/mcp`: the Model Context Protocol over Streamable HTTP, stateless. Each POST
 * gets a fresh MCP server and answers JSON, so any replica answers any request
 * and no session lives in memory (no sticky sessions behind a load balancer).
 * The GET stream carries `notifications/prompts/list_changed`: a replica hears
 * of every deploy through the change feed (Postgres NOTIFY reaches all of them),
 * so a client's stream may be on any one.
 */
export function mcpRoutes(deps: McpDeps): Route[] {
  const { feed, keys, prompts, deployments, logger } = deps;
  const renderRoute = () => {
    const route = deps.routes().find((r) => r.method === 'post' && r.path === '/prompts/:name/render');
    if (!route) throw new Error('the render route (POST /prompts/:name/render) is not declared');
    return route;
  };

  function open(environment: string | undefined, ctx: Context) {
    const env = environment ?? 'production';
    deployments.assertEnvironment(env);
    negotiate(ctx.req);
    const registry = localRegistry({ prompts, deployments, renderRoute, principal: ctx.principal, ctx });
    const server = createMcpServer({ registry, environment: env, logger });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, keepAliveMs: deps.heartbeatMs });
    return { env, server, transport };
  }

  return [
    defineRoute({
      method: 'post',
      path: '/mcp',
      summary: 'Model Context Protocol (Streamable HTTP, stateless): JSON-RPC requests from an MCP client; the prompts live in an environment (default production) are its prompts',
      tag: 'mcp',
      scope: 'read',
      query: mcpQuery,
      body: mcpBody,
      responses: {
        200: { description: 'The JSON-RPC answer (application/json). Protocol errors are JSON-RPC errors (docs/mcp.md)', schema: jsonRpcAnswer },
        202: { description: 'Accepted: the body held only notifications or answers' },
        400: err('Unknown environment, or a body that is not JSON-RPC 2.0'),
        401: err('No credential, or not a valid one'),
      },
      async handler({ query, body }, ctx) {
        const { server, transport } = open(query.environment, ctx);
        ctx.res.on('close', () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(ctx.req, ctx.res, body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/mcp',
      summary: 'Model Context Protocol notification stream (Server-Sent Events): notifications/prompts/list_changed when a deploy or rollback changes the live prompts',
      tag: 'mcp',
      scope: 'read',
      query: mcpQuery,
      responses: {
        200: { description: 'text/event-stream of JSON-RPC notifications; ends when the credential stops working or the server shuts down' },
        400: err('Unknown environment, or an Accept header without text/event-stream'),
        401: err('No credential, or not a valid one'),
      },
      async handler({ query }, ctx) {
        const { env, server, transport } = open(query.environment, ctx);
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          stopOnShutdown();
          stopWatching();
          void transport.close();
          void server.close();
        };
        const unsubscribe = feed.subscribe((event) => {
          if (changesLivePrompts(event, env)) announce();
        });
        const stopOnShutdown = feed.onShutdown(end);
        const stopWatching = watchCredential(ctx.principal, feed, keys, end);
        function announce(): void {
          if (ended) return;
          announceLiveChange(server).catch((e: unknown) => logger.warn({ err: e }, 'MCP list_changed notification not sent'));
        }
        ctx.res.on('close', end);
        await server.connect(transport);
        await transport.handleRequest(ctx.req, ctx.res);
      },
    }),
  ];
}
