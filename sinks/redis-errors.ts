// Replies of a server that is busy, starting, failing over or full: the same command can succeed later.
const RETRIABLE_REPLIES = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK|OOM|NOREPLICAS)\b|^ERR max number of clients/;

/**
 * Whether a failed Redis call may succeed if retried. Connection failures (no reply at all) may;
 * a server's error reply may only when it says the server is not ready (loading, busy, failing
 * over, out of memory). Any other reply — a script error, a wrong type, a value that is not an
 * integer, a refused login — says the command itself can not succeed.
 */
export function redisErrorIsRetriable(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return true;
  return RETRIABLE_REPLIES.test(err.message);
}
