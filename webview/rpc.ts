// The webview's end of a conversation with the host: typed requests whose
// answers come back by id, and the host's notifications. DOM only.
import { isNotification, isResponse, type Methods, type Notification, type Ready, type Response } from './protocol.js';

export interface VsCodeApi<State> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): void;
}
declare function acquireVsCodeApi<State>(): VsCodeApi<State>;

export interface Rpc<M extends Methods, S extends { type: 'shown' }, State> {
  call<K extends keyof M & string>(method: K, params: M[K]['params']): Promise<M[K]['result']>;
  /** Tells the host what the page shows now. */
  shown(report: Omit<S, 'type'>): void;
  state(): State | undefined;
  save(state: State): void;
}

/** Failed requests reject with the host's message (the registry's words). */
export class HostError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * How long a request waits for the host's answer. The host's own calls to the registry time out
 * sooner; past this the host is gone or stuck, and the page says so instead of waiting forever.
 */
export const REQUEST_TIMEOUT_MS = 90_000;

/**
 * Connects to the host: `onNotice` gets each notification of `notices`; then
 * says `ready`, after which the host may post.
 */
export function connect<M extends Methods, N extends { type: string }, S extends { type: 'shown' }, State>(
  notices: readonly N['type'][],
  onNotice: (notice: Notification<N>) => void,
): Rpc<M, S, State> {
  const vscode = acquireVsCodeApi<State>();
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (isResponse(data)) {
      const waiting = pending.get(data.id);
      if (!waiting) return;
      pending.delete(data.id);
      clearTimeout(waiting.timer);
      const r = data as Response;
      if (r.ok) waiting.resolve(r.result);
      else waiting.reject(new HostError(r.error.message, r.error.code));
    } else if (isNotification<N>(data, notices)) {
      onNotice(data);
    }
  });
  const rpc: Rpc<M, S, State> = {
    call(method, params) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new HostError(`VS Code did not answer "${method}" within ${REQUEST_TIMEOUT_MS / 1000} s; close the panel and open it again.`, 'timeout'));
        }, REQUEST_TIMEOUT_MS);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        vscode.postMessage({ kind: 'request', id, method, params });
      });
    },
    shown: (report) => vscode.postMessage({ ...report, type: 'shown', kind: 'notify' }),
    state: () => vscode.getState(),
    save: (state) => vscode.setState(state),
  };
  queueMicrotask(() => vscode.postMessage({ type: 'ready', kind: 'notify' } satisfies Notification<Ready>));
  return rpc;
}
