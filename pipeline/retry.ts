import { setTimeout as sleep } from 'node:timers/promises';
import { ViewtallyError } from '../schemas/errors.ts';

/** Whether an error is worth retrying: a retriable ViewtallyError, or anything that is not ours (network). */
export function isRetriable(err: unknown): boolean {
  return err instanceof ViewtallyError ? err.retriable : true;
}

// Retries fail for about half a minute (backoff 0.1 s doubling to 5 s) before they are worth a person's attention.
const ATTEMPTS_BEFORE_ALARM = 12;

/** The log level of a failed attempt: `warn` while it may be a blip, `error` once a sink has been away long enough that a person should look. */
export function retryLogLevel(attempt: number): 'warn' | 'error' {
  return attempt >= ATTEMPTS_BEFORE_ALARM ? 'error' : 'warn';
}

/**
 * Runs `fn` until it succeeds, backing off exponentially (capped) on retriable errors and
 * reporting each retry; a non-retriable error, or the signal aborting, ends the attempts.
 */
export async function retrying<T>(
  fn: () => Promise<T>,
  options: { onRetry: (err: unknown, attempt: number, delayMs: number) => void; signal?: AbortSignal; baseDelayMs?: number; maxDelayMs?: number },
): Promise<T> {
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || options.signal?.aborted) throw err;
      const delay = Math.min(max, base * 2 ** Math.min(attempt - 1, 10));
      options.onRetry(err, attempt, delay);
      await sleep(delay);
    }
  }
}
