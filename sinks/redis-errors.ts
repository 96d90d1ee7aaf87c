// Replies of a server that is busy, starting, failing over or full: the same command can succeed later.
const RETRIABLE_REPLIES = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK|OOM|NOREPLICAS)\b|^ERR max number of clients/;

/**
 * Whether a failed Redis call may succeed if retried. Connection failures (no reply at all) may;
 * a server's error reply may only when it says the server is not ready (loading, busy, failing
 * over, out of memory). Any other reply — a script error, a wrong type, a value that is not an
 * integer, a refused login — says the command itself can not succeed. A transaction discarded
 * (EXECABORT) may as its queued commands' errors may.
 */
export function redisErrorIsRetriable(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return true;
  if (err.message.startsWith('EXECABORT')) {
    // A discarded transaction applied nothing: it may be sent again when what made its commands fail
    // may pass (on a cluster, a slot that moved or a connection lost while a master fails over).
    const previous = (err as Error & { previousErrors?: unknown[] }).previousErrors ?? [];
    return previous.length > 0 && previous.every(redisErrorIsRetriable);
  }
  return RETRIABLE_REPLIES.test(err.message);
}
