/**
 * Runs `fn` for every item at once and waits for all of them: a round of per-partition sink
 * writes takes as long as the slowest, not the sum. Every call has ended when this settles, so a
 * failure (the first one is thrown) leaves nothing still writing behind it.
 */
export async function sideBySide<T>(items: Iterable<T>, fn: (item: T) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled([...items].map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
