import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/**
 * A model provider for tests: one HTTP server speaking OpenAI Chat Completions
 * (POST …/chat/completions) and Anthropic Messages (POST …/v1/messages), each
 * streaming (SSE) when the request asks for it. Scriptable per test: queue
 * behaviours with `script(...)`, each taken by one request in order; when the
 * queue is empty, `fallback` answers.
 */
export interface Behaviour {
  /** Answer this status with an error body (and Retry-After when given) instead of an answer. */
  status?: number;
  retryAfter?: string;
  /** Wait this long before answering (a slow provider). */
  delayMs?: number;
  /** Send this body as it is (a malformed answer), with this content type. */
  raw?: string;
  rawContentType?: string;
  /** The assistant's text (default: "Hello from the mock"). */
  text?: string;
  /** Tool calls answered instead of, or beside, the text. */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
  usage?: { input: number; output: number };
  /** Streaming only: stop after the first chunk, without the end of the stream. */
  cutStream?: boolean;
  /** Answer 302 to this location instead. */
  redirectTo?: string;
  /** Non-streaming OpenAI answers: gzip the body (Content-Encoding: gzip). */
  gzip?: boolean;
}

export interface ReceivedCall {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, any>;
  /** When the request arrived (ms since epoch): the retry tests compare arrivals. */
  at: number;
}

export const DEFAULT_TEXT = 'Hello from the mock';

export class MockProvider {
  readonly calls: ReceivedCall[] = [];
  fallback: Behaviour = {};
  /** When the queue is empty: a behaviour computed from the request (before `fallback`). */
  respond: ((call: ReceivedCall) => Behaviour) | undefined;
  private queue: Behaviour[] = [];
  private server!: Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';
  /** TCP connections accepted since start: a client that keeps its connections alive opens few. */
  connections = 0;

  /** Queues behaviours for the next requests, in order. */
  script(...behaviours: Behaviour[]): void {
    this.queue.push(...behaviours);
  }

  /** Forgets the calls and the queue (between tests). */
  reset(): void {
    this.calls.length = 0;
    this.queue = [];
    this.fallback = {};
    this.respond = undefined;
  }

  /** The OpenAI-compatible base URL (…/v1), as a provider's base_url. */
  get openAiBase(): string {
    return `${this.url}/v1`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', () => this.connections++);
    this.server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.server.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
      } catch {
        // recorded as {}: a test asserting on the body will see it
      }
      const path = req.url ?? '';
      const call = { path, headers: req.headers, body, at: Date.now() };
      this.calls.push(call);
      const b = this.queue.shift() ?? this.respond?.(call) ?? this.fallback;
      const answer = () => {
        if (res.destroyed) return;
        if (path.endsWith('/chat/completions')) this.openAi(res, body, b);
        else if (path.endsWith('/v1/messages')) this.anthropic(res, body, b);
        else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${path}` } }));
      };
      if (b.delayMs) this.later(b.delayMs, answer);
      else answer();
    });
  }

  /** Status, Retry-After and raw bodies: the same for both formats. Answers whether it handled the request. */
  private special(res: ServerResponse, b: Behaviour): boolean {
    if (b.redirectTo !== undefined) {
      res.writeHead(302, { location: b.redirectTo }).end();
      return true;
    }
    if (b.status !== undefined) {
      res.writeHead(b.status, { 'content-type': 'application/json', ...(b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { type: 'mock_error', message: `mock answered ${b.status}` } }));
      return true;
    }
    if (b.raw !== undefined) {
      res.writeHead(200, { 'content-type': b.rawContentType ?? 'application/json' }).end(b.raw);
      return true;
    }
    return false;
  }

  private openAi(res: ServerResponse, req: Record<string, any>, b: Behaviour): void {
    if (this.special(res, b)) return;
    const text = b.toolCalls && b.text === undefined ? null : (b.text ?? DEFAULT_TEXT);
    const usage = { prompt_tokens: b.usage?.input ?? 12, completion_tokens: b.usage?.output ?? 5 };
    const toolCalls = b.toolCalls?.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
    const model = String(req.model ?? 'mock');
    if (!req.stream) {
      const answer = JSON.stringify({
        id: 'chatcmpl-mock',
        object: 'chat.completion',
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: toolCalls ? 'tool_calls' : 'stop' }],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
      res.writeHead(200, { 'content-type': 'application/json', ...(b.gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(b.gzip ? gzipSync(answer) : answer);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      send({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] });
    chunk({ role: 'assistant', content: '' });
    const pieces = text ? text.split(/(?<= )/) : [];
    for (const piece of pieces) {
      chunk({ content: piece });
      if (b.cutStream) return void res.end();
    }
    toolCalls?.forEach((c, index) => {
      chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] });
      chunk({ tool_calls: [{ index, function: { arguments: c.function.arguments } }] });
    });
    chunk({}, toolCalls ? 'tool_calls' : 'stop');
    if (req.stream_options?.include_usage) send({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', model, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  private anthropic(res: ServerResponse, req: Record<string, any>, b: Behaviour): void {
    if (this.special(res, b)) return;
    const text = b.toolCalls && b.text === undefined ? null : (b.text ?? DEFAULT_TEXT);
    const usage = { input_tokens: b.usage?.input ?? 12, output_tokens: b.usage?.output ?? 5 };
    const model = String(req.model ?? 'mock');
    const blocks: any[] = [...(text !== null ? [{ type: 'text', text }] : []), ...(b.toolCalls ?? []).map((c, i) => ({ type: 'tool_use', id: `toolu_${i}`, name: c.name, input: c.arguments }))];
    const stop = b.toolCalls ? 'tool_use' : 'end_turn';
    if (!req.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'msg_mock', type: 'message', role: 'assistant', model, content: blocks, stop_reason: stop, usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (event: string, data: Record<string, unknown>) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    send('message_start', { message: { id: 'msg_mock', type: 'message', role: 'assistant', model, content: [], usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } });
    blocks.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const piece of String(block.text).split(/(?<= )/)) {
          send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
          if (b.cutStream) return void res.end();
        }
      } else {
        send('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      send('content_block_stop', { index });
    });
    if (res.writableEnded) return;
    send('message_delta', { delta: { stop_reason: stop }, usage: { output_tokens: usage.output_tokens } });
    send('message_stop', {});
    res.end();
  }
}
