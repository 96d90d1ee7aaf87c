/** Named moments where the crash tests may kill the process (`kill -9` from the inside). */
export type CrashPoint = 'mid-batch' | 'before-live-flush' | 'during-redis-commit' | 'after-redis-checkpoint' | 'after-clickhouse-insert';

// VT_CRASH_POINTS="after-redis-checkpoint:0.05,during-redis-commit:0.02", VT_CRASH_SEED=<n>: seeded so a failing run replays.
const odds = new Map<string, number>(
  (process.env.VT_CRASH_POINTS ?? '')
    .split(',')
    .filter(Boolean)
    .map((s) => {
      const [name, p] = s.split(':');
      return [name, Number(p)] as const;
    }),
);
let state = Number(process.env.VT_CRASH_SEED ?? 1) >>> 0 || 1;

function random(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
}

/** Fault injection for the crash tests: with the configured odds, dies here as a `kill -9` would. */
export function crashPoint(name: CrashPoint, options: { deferred?: boolean } = {}): void {
  const p = odds.get(name);
  if (p === undefined || random() >= p) return;
  process.stderr.write(`crash point ${name}: SIGKILL\n`);
  // deferred: the request already went out (e.g. a Redis script in flight) and the process dies before its answer
  if (options.deferred) setImmediate(() => process.kill(process.pid, 'SIGKILL'));
  else process.kill(process.pid, 'SIGKILL');
}
