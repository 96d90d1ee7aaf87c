import { pino, type Logger } from 'pino';

/** The job's structured JSON logger, on stderr so stdout stays for command output. */
export function createLogger(name: string, level = process.env.VT_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}

export type { Logger };
