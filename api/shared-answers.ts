/**
 * Answers shared per key: while one is in flight and for `ttlMs` after it, every ask for the same
 * key gets the same promise, so a burst for one key costs one lookup. A failed answer is
 * forgotten at once; at most `maxEntries` are kept, the oldest dropped first.
 */
export function sharedAnswers<T>(options: { ttlMs: number; maxEntries: number; now: () => number }) {
  const { ttlMs, maxEntries, now } = options;
  const entries = new Map<string, { expires: number; answer: Promise<T> }>();
  return {
    /** The shared answer for `key`, from `load` when there is none yet or it has expired. */
    get(key: string, load: () => Promise<T>): Promise<T> {
      const t = now();
      const hit = entries.get(key);
      if (hit !== undefined && hit.expires > t) return hit.answer;
      if (hit !== undefined) entries.delete(key);
      const answer = load();
      // a failure is not an answer: the next ask tries again
      answer.catch(() => {
        if (entries.get(key)?.answer === answer) entries.delete(key);
      });
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { expires: t + ttlMs, answer });
      return answer;
    },
  };
}
