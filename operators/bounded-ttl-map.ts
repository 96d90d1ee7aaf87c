/** Snapshot of a {@link BoundedTtlMap}: keys and times in insertion order. */
export interface BoundedTtlMapSnapshot {
  keys: string[];
  times: number[];
}

/**
 * Keyed state with an event-time TTL and a size cap: the state every dedup rule keeps.
 * Entries are kept in insertion order, so expiry sweeps from the oldest end and the cap
 * evicts the oldest entry; evictions are counted for the metric.
 */
export class BoundedTtlMap {
  // configuration
  readonly ttlMs: number;
  readonly maxEntries: number;
  // checkpointed state
  private readonly entries = new Map<string, number>();
  // not checkpointed
  evictions = 0;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The time stored for `key`, or undefined when absent or expired relative to `now`. */
  get(key: string, now: number): number | undefined {
    const t = this.entries.get(key);
    if (t === undefined || now - t >= this.ttlMs) return undefined;
    return t;
  }

  /** Stores `key` at time `t` as the newest entry, evicting the oldest when over the cap. */
  set(key: string, t: number): void {
    this.entries.delete(key);
    this.entries.set(key, t);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evictions++;
    }
  }

  /** Drops entries older than the TTL at `now`, from the oldest end until a live one is met. */
  expire(now: number): void {
    for (const [key, t] of this.entries) {
      if (now - t < this.ttlMs) break;
      this.entries.delete(key);
    }
  }

  snapshot(): BoundedTtlMapSnapshot {
    return { keys: [...this.entries.keys()], times: [...this.entries.values()] };
  }

  restore(s: BoundedTtlMapSnapshot): void {
    this.entries.clear();
    for (let i = 0; i < s.keys.length; i++) this.entries.set(s.keys[i], s.times[i]);
  }
}
