/** Snapshot of a {@link BoundedTtlMap}: keys and times in insertion order. */
export interface BoundedTtlMapSnapshot {
  keys: string[];
  times: number[];
}

/** What changed since the last snapshot or delta: the entries set since, in order, and the size now. */
export interface BoundedTtlMapDelta extends BoundedTtlMapSnapshot {
  size: number;
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
  /** Entries set since the last snapshot or delta, in map order (null until the first one). */
  private recent: Map<string, number> | null = null;

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
    if (this.recent !== null) {
      this.recent.delete(key);
      this.recent.set(key, t);
    }
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
    this.recent = new Map();
    return { keys: [...this.entries.keys()], times: [...this.entries.values()] };
  }

  /** Restores a snapshot and the deltas taken after it, in order. */
  restore(s: BoundedTtlMapSnapshot, deltas: readonly BoundedTtlMapDelta[] = []): void {
    this.entries.clear();
    for (let i = 0; i < s.keys.length; i++) this.entries.set(s.keys[i], s.times[i]);
    for (const d of deltas) {
      for (let i = 0; i < d.keys.length; i++) {
        this.entries.delete(d.keys[i]);
        this.entries.set(d.keys[i], d.times[i]);
      }
      for (const key of this.entries.keys()) {
        if (this.entries.size <= d.size) break;
        this.entries.delete(key);
      }
    }
    this.recent = new Map();
  }

  /**
   * The change since the last snapshot or delta. Expiry and the cap only ever drop the oldest
   * entries and `set` moves a key to the newest end, so the map is always its previous content
   * with the keys set since moved to the end, cut to its size at the front: entries set + size say it all.
   */
  delta(): BoundedTtlMapDelta {
    if (this.recent === null) throw new Error('BoundedTtlMap.delta() needs a snapshot or restore first');
    const d: BoundedTtlMapDelta = { keys: [], times: [], size: this.entries.size };
    for (const [key, t] of this.recent) {
      // A key set since, then dropped by the cap, is gone with everything set before it.
      if (this.entries.has(key)) {
        d.keys.push(key);
        d.times.push(t);
      }
    }
    this.recent = new Map();
    return d;
  }
}
