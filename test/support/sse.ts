/** One Server-Sent Event as a test reads it. */
export interface SseEvent {
  event: string;
  data: any;
  /** The `retry:` hint given with it, if any. */
  retry?: number;
}

export interface SseStream {
  res: Response;
  events: SseEvent[];
  /** Whether the server has ended the stream. */
  ended: () => boolean;
  close(): void;
  /** Settles when the stream ends (by the server, or close()). */
  done: Promise<void>;
}

/** Opens `url` and reads its Server-Sent Events into a list; `key` goes in X-API-Key, or pass headers. */
export async function listen(url: string, credential: string | null | Record<string, string>): Promise<SseStream> {
  const controller = new AbortController();
  const headers = credential === null ? {} : typeof credential === 'string' ? { 'X-API-Key': credential } : credential;
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  let ended = false;
  let text = '';
  const done = (async () => {
    if (!res.body || res.status !== 200) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          const retry = /^retry: (\d+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data), ...(retry ? { retry: Number(retry) } : {}) });
        }
      }
      ended = true;
    } catch {
      // aborted
    }
  })();
  return { res, events, ended: () => ended, close: () => controller.abort(), done };
}
