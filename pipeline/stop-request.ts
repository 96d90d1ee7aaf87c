/**
 * A stop asked of a long-running command (SIGINT or SIGTERM), caught from the moment the process
 * starts: loading the CLI takes seconds on a busy machine, and a job told to stop during that time
 * must still stop gracefully (exit 0, nothing half written) instead of dying from the signal.
 * Commands that do not run a job keep the default: the signal ends them.
 */
const GRACEFUL = new Set(['run', 'demo', 'serve']);
const controller = new AbortController();

if (GRACEFUL.has(process.argv[2] ?? '')) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => controller.abort(sig));
}

/** Aborted (with the signal's name as reason) once a stop was asked; already aborted if it came during start-up. */
export const stopRequest: AbortSignal = controller.signal;

/** Calls `fn` once a stop is asked (at once if it already was). */
export function whenStopped(fn: () => void): void {
  if (stopRequest.aborted) fn();
  else stopRequest.addEventListener('abort', fn, { once: true });
}
