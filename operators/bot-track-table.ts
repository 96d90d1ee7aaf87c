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

/** What changed since the last snapshot or delta: the sweep queue's ends and the tracks touched since. */
export interface TrackTableDelta extends Omit<TrackTableState, 'keys'> {
  /** Keys put on the back of the sweep queue since, in order. */
  pushed: Array<string | number>;
  /** Keys taken off its front since (some may have been pushed since): the queue is (before ++ pushed) without its first `popped`. */
  popped: number;
  /** The touched keys still held, with their tracks in `lastTs`, `touched`, `lengths`, `data`. */
  keys: Array<string | number>;
  /** The touched keys no longer held. */
  deleted: Array<string | number>;
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
  // changes since the last snapshot or delta (null until the first one)
  private changes: { popped: number; pushed: K[]; touched: Set<K> } | null = null;

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
      this.enqueue(key);
      if (this.tracks.size > this.maxKeys) this.evictOne();
      return t;
    }
    t.touched = true;
    this.changes?.touched.add(key);
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
        this.changes?.touched.add(key);
        this.expired++;
      } else if (t.touched) {
        this.pop();
        t.touched = false;
        this.enqueue(key);
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
        this.changes?.touched.add(key);
        this.evicted++;
        return;
      }
      t.touched = false;
      this.enqueue(key);
    }
  }

  private enqueue(key: K): void {
    this.queue.push(key);
    if (this.changes !== null) {
      this.changes.pushed.push(key);
      this.changes.touched.add(key);
    }
  }

  private pop(): K {
    if (this.changes !== null) this.changes.popped++;
    const key = this.queue[this.head++];
    if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  snapshot(): TrackTableState {
    const s: TrackTableState = { keys: [], lastTs: [], touched: [], lengths: [], data: [], evicted: this.evicted, expired: this.expired };
    for (let i = this.head; i < this.queue.length; i++) putTrack(s, this.queue[i], this.tracks.get(this.queue[i])!);
    this.changes = { popped: 0, pushed: [], touched: new Set() };
    return s;
  }

  /** The change since the last snapshot or delta; applied to that state, it gives this table. */
  delta(): TrackTableDelta {
    if (this.changes === null) throw new Error('TrackTable.delta() needs a snapshot or restore first');
    const { popped, pushed, touched } = this.changes;
    const d: TrackTableDelta = { popped, pushed, keys: [], deleted: [], lastTs: [], touched: [], lengths: [], data: [], evicted: this.evicted, expired: this.expired };
    for (const key of touched) {
      const t = this.tracks.get(key);
      if (t === undefined) d.deleted.push(key);
      else putTrack(d, key, t);
    }
    this.changes = { popped: 0, pushed: [], touched: new Set() };
    return d;
  }


  /** Restores a snapshot and the deltas taken after it, in order. */
  restore(s: TrackTableState, deltas: readonly TrackTableDelta[] = []): void {
    this.tracks.clear();
    this.queue = s.keys.slice() as K[];
    this.head = 0;
    this.putTracks(s);
    for (const d of deltas) {
      this.queue = this.queue.concat(d.pushed as K[]).slice(d.popped);
      for (const key of d.deleted) this.tracks.delete(key as K);
      this.putTracks(d);
    }
    const last = deltas.at(-1) ?? s;
    this.evicted = last.evicted;
    this.expired = last.expired;
    this.changes = null;
    // A restart with a smaller cap keeps the keys the sweep reaches last.
    while (this.tracks.size > this.maxKeys) this.evictOne();
    this.changes = { popped: 0, pushed: [], touched: new Set() };
  }

  private putTracks(s: Pick<TrackTableState, 'keys' | 'lastTs' | 'touched' | 'lengths' | 'data'>): void {
    let at = 0;
    for (let i = 0; i < s.keys.length; i++) {
      const n = 2 * s.lengths[i];
      this.tracks.set(s.keys[i] as K, { lastTs: s.lastTs[i], data: s.data.slice(at, at + n), touched: s.touched[i] === 1 });
      at += n;
    }
    if (at !== s.data.length) throw new RangeError(`bot state: track data has ${s.data.length} numbers, lengths account for ${at}`);
  }
}

function putTrack(s: Pick<TrackTableState, 'keys' | 'lastTs' | 'touched' | 'lengths' | 'data'>, key: string | number, t: Track): void {
  s.keys.push(key);
  s.lastTs.push(t.lastTs);
  s.touched.push(t.touched ? 1 : 0);
  s.lengths.push(t.data.length / 2);
  for (const x of t.data) s.data.push(x);
}
