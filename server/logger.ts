import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.PROMPT_REGISTRY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'prompt-registry' }, timestamp: pino.stdTimeFunctions.isoTime });
}
