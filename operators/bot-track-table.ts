/** One key's recent observations: `data` holds `[ts, tag]` pairs in arrival order, at most a capacity of them. */
export interface Track {
  /** Latest event time observed for the key (drives the TTL). */
  lastTs: number;
  data: number[];
  /** Observed again since the sweep last passed it (its second chance against the cap). */
  touched: boolean;
}

/** A {@link TrackTable} as plain JSON: keys in sweep order, their tracks concatenated. */
export interface TrackTableState {
  keys: Array<string | number>;
  lastTs: number[];
  /** 1 where the key was touched since the sweep last passed it. */
  touched: number[];
  /** Number of `[ts, tag]` pairs of each key, in `data`. */
  lengths: number[];
  data: number[];
  evicted: number;
  expired: number;
}

// Compact the sweep queue once this many consumed slots have piled up at its front.
const COMPACT_AT = 4_096;

/**
 * Keyed, bounded sliding-window state: per key, the last few observations with their event times.
 * Keys sit in a FIFO sweep queue (a clock): the TTL sweep drops keys whose observations have all
 * left every window, and the size cap evicts the oldest key not seen again since the sweep last
 * passed it (second chance, a close and cheap approximation of least recently seen). Touching a
 * key never reorders the hash map, so there is no delete-and-reinsert churn on the hot path.
 * Everything is driven by the event sequence, never the wall clock, so a replay rebuilds the same table.
 */
export class TrackTable<K extends string | number> {
  // configuration
  readonly maxKeys: number;
  // checkpointed state
  private readonly tracks = new Map<K, Track>();
  private queue: K[] = [];
  private head = 0;
  /** Keys dropped by the size cap while they could still matter (decisions may differ from an unbounded table). */
  evicted = 0;
  /** Keys dropped because nothing of theirs is inside any window any more (decisions unaffected). */
  expired = 0;

  constructor(maxKeys: number) {
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.tracks.size;
  }

  /** Appends an observation to `key`'s track (keeping its last `capacity`) and applies the cap. */
  record(key: K, ts: number, tag: number, capacity: number): Track {
    let t = this.tracks.get(key);
    if (t === undefined) {
      // An array literal is allocated at its exact size; a push onto [] would reserve 17 slots.
      t = { lastTs: ts, data: [ts, tag], touched: false };
      this.tracks.set(key, t);
      this.queue.push(key);
      if (this.tracks.size > this.maxKeys) this.evictOne();
      return t;
    }
    t.touched = true;
    if (ts > t.lastTs) t.lastTs = ts;
    t.data.push(ts, tag);
    const excess = t.data.length - 2 * capacity;
    if (excess > 0) t.data.splice(0, excess);
    return t;
  }

  /**
   * Advances the sweep by up to `budget` keys: drops keys whose latest observation is `ttlMs` or
   * more before `now`, requeues live keys touched since the last pass, and stops at the first live
   * untouched key (everything behind it was queued later).
   */
  expire(now: number, ttlMs: number, budget: number): void {
    while (budget-- > 0 && this.head < this.queue.length) {
      const key = this.queue[this.head];
      const t = this.tracks.get(key)!;
      if (now - t.lastTs >= ttlMs) {
        this.pop();
        this.tracks.delete(key);
        this.expired++;
      } else if (t.touched) {
        this.pop();
        t.touched = false;
        this.queue.push(key);
      } else {
        return;
      }
    }
  }

  private evictOne(): void {
    // Each key gets one second chance; after a full pass every flag is clear, so this ends.
    for (;;) {
      const key = this.pop();
      const t = this.tracks.get(key)!;
      if (!t.touched) {
        this.tracks.delete(key);
        this.evicted++;
        return;
      }
      t.touched = false;
      this.queue.push(key);
    }
  }

  private pop(): K {
    const key = this.queue[this.head++];
    if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  snapshot(): TrackTableState {
    const s: TrackTableState = { keys: [], lastTs: [], touched: [], lengths: [], data: [], evicted: this.evicted, expired: this.expired };
    for (let i = this.head; i < this.queue.length; i++) {
      const key = this.queue[i];
      const t = this.tracks.get(key)!;
      s.keys.push(key);
      s.lastTs.push(t.lastTs);
      s.touched.push(t.touched ? 1 : 0);
      s.lengths.push(t.data.length / 2);
      for (const x of t.data) s.data.push(x);
    }
    return s;
  }

  restore(s: TrackTableState): void {
    this.tracks.clear();
    this.queue = [];
    this.head = 0;
    let at = 0;
    for (let i = 0; i < s.keys.length; i++) {
      const n = 2 * s.lengths[i];
      this.tracks.set(s.keys[i] as K, { lastTs: s.lastTs[i], data: s.data.slice(at, at + n), touched: s.touched[i] === 1 });
      this.queue.push(s.keys[i] as K);
      at += n;
    }
    if (at !== s.data.length) throw new RangeError(`bot state: track data has ${s.data.length} numbers, lengths account for ${at}`);
    this.evicted = s.evicted;
    this.expired = s.expired;
    // A restart with a smaller cap keeps the keys the sweep reaches last.
    while (this.tracks.size > this.maxKeys) this.evictOne();
  }
}
