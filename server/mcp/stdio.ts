import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { pino } from 'pino';
import { loadClient, remoteRegistry } from './remote.js';
import { announceLiveChange, changesLivePrompts, createMcpServer } from './server.js';

export interface StdioOptions {
  url: string;
  apiKey: string;
  environment: string;
  logLevel: string;
}

/**
 * `prompt-registry mcp`: an MCP server on stdin/stdout for a host that starts
 * it (Claude Desktop, VS Code, Cursor), reaching a registry over HTTP with an
 * API key. stdout carries only MCP messages; logs go to stderr. The
 * registry's event stream tells it of deploys, announced as
 * `notifications/prompts/list_changed`.
 */
export async function runStdio(options: StdioOptions): Promise<void> {
  const logger = pino({ level: options.logLevel, base: { service: 'prompt-registry-mcp' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  const url = options.url.replace(/\/+$/, '');
  const client = await loadClient();
  const api = new client.RegistryApi({ url, apiKey: options.apiKey });
  const registry = remoteRegistry(client, api, new client.Http(url, options.apiKey, 10_000));

  // A wrong URL, key or environment is said at once (on stderr, exit 1), not at the host's first request.
  try {
    const live = await registry.live(options.environment);
    logger.info({ registry: url, environment: options.environment, prompts: live.length }, 'serving live prompts over MCP (stdio)');
  } catch (err) {
    const problem = registry.problem(err);
    throw new Error(`cannot serve ${url} (${options.environment}) over MCP: ${problem ? problem.message : String(err)}`, { cause: err });
  }

  const server = createMcpServer({ registry, environment: options.environment, logger });
  let initialized = false;
  const announce = () => {
    if (!initialized) return;
    announceLiveChange(server).catch((err: unknown) => logger.warn({ err }, 'MCP list_changed notification not sent'));
  };
  server.server.oninitialized = () => {
    initialized = true;
  };
  const events = api.events({
    onEvent: (event) => {
      if (changesLivePrompts(event, options.environment)) announce();
    },
    // Reconnected after a gap: a deploy may have been missed.
    onResync: announce,
    onError: (err) => logger.warn({ err: err.message }, 'registry event stream'),
  });
  const stop = () => {
    events.close();
    void server.close();
  };
  process.stdin.on('end', stop);
  process.on('SIGTERM', () => {
    stop();
    process.exit(0);
  });
  await server.connect(new StdioServerTransport());
}
