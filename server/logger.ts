import { pino, type Logger } from 'pino';

/**
 * JSON lines on stdout, written asynchronously in chunks of up to 4 KB and at
 * least every second: a write per line was a large part of each request's
 * cost under load. `flushLogs` before exit.
 */
export function createLogger(level = process.env.PROMPT_REGISTRY_LOG_LEVEL ?? 'info'): Logger {
  const logger = pino(
    { level, base: { service: 'prompt-registry' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false, minLength: 4096 }),
  );
  setInterval(() => logger.flush(), 1_000).unref();
  return logger;
}

export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
