import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { FingerprintTable, MAX_TABLE_ENTRIES, tableBytes } from './fingerprint-table.ts';
import { resized } from './typed-arrays.ts';

/** Bytes per entry of the payload: the entry's event time. */
const PAYLOAD_BYTES = 8;

/** The entries a memory budget allows a dedup store: the most whose arrays fit in `bytes`. */
export function entriesForBudget(bytes: number): number {
  let lo = 1;
  let hi = MAX_TABLE_ENTRIES;
  if (dedupBytes(lo) > bytes) throw new RangeError(`a dedup memory budget of ${bytes} bytes holds no entry`);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (dedupBytes(mid) <= bytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Bytes a dedup store of `entries` entries takes when full. */
export function dedupBytes(entries: number): number {
  return tableBytes(entries) + PAYLOAD_BYTES * entries;
}

/**
 * A dedup rule's keyed state: the event time stored for each key fingerprint, with an event-time
 * TTL and a size cap from a memory budget. Keys are kept in the order they were last set, so expiry
 * sweeps from the oldest end (stopping at the first live entry) and the cap evicts the oldest;
 * evictions are counted for the metric.
 */
export class DedupStore {
  // configuration
  readonly ttlMs: number;
  // checkpointed state
  private times = new Float64Array(0);
  private readonly table: FingerprintTable;
  // not checkpointed
  evictions = 0;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.ttlMs = options.ttlMs;
    this.table = new FingerprintTable(options.maxEntries, (capacity) => (this.times = resized(this.times, capacity)));
  }

  get size(): number {
    return this.table.size;
  }

  get maxEntries(): number {
    return this.table.maxEntries;
  }

  /** Bytes of the store's arrays as allocated now. */
  memoryBytes(): number {
    return this.table.memoryBytes() + this.times.byteLength;
  }

  /** The time stored for a key, or NaN when absent or expired relative to `now`. */
  get(hi: number, lo: number, now: number): number {
    const slot = this.table.find(hi, lo);
    if (slot < 0) return NaN;
    const t = this.times[slot];
    return now - t >= this.ttlMs ? NaN : t;
  }

  /** Stores a key at time `t` as the newest entry, evicting the oldest when at the cap. */
  set(hi: number, lo: number, t: number): void {
    const table = this.table;
    let slot = table.find(hi, lo);
    if (slot >= 0) {
      table.touch(slot);
    } else {
      if (table.size >= table.maxEntries) {
        table.removeOldest();
        this.evictions++;
      }
      slot = table.insert(hi, lo);
    }
    this.times[slot] = t;
  }

  /** Drops entries older than the TTL at `now`, from the oldest end until a live one is met. */
  expire(now: number): void {
    const table = this.table;
    for (let slot = table.oldest(); slot >= 0 && now - this.times[slot] >= this.ttlMs; slot = table.oldest()) table.removeOldest();
  }

  /**
   * Writes the whole store (`changedOnly` false) or the change since the last write (true) and
   * marks it: the number of entries now, then each entry (fingerprint, time), oldest first.
   */
  write(w: BinaryWriter, changedOnly: boolean): void {
    const table = this.table;
    const countAt = w.length;
    w.u32(table.size);
    w.u32(0);
    let n = 0;
    table.forEach(changedOnly, (slot) => {
      w.u32(table.hiOf(slot));
      w.u32(table.loOf(slot));
      w.f64(this.times[slot]);
      n++;
    });
    w.patchU32(countAt + 4, n);
    table.mark();
  }

  /** Reads a whole store (`replace`), or a change onto the current one: set each entry, then drop the oldest down to the recorded size. */
  read(r: BinaryReader, replace: boolean): void {
    if (replace) this.table.clear();
    const size = r.u32();
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const hi = r.u32();
      const lo = r.u32();
      const t = r.f64();
      this.set(hi, lo, t);
    }
    while (this.table.size > size) this.table.removeOldest();
    this.table.mark();
  }
}
