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
   * marks it: the number of entries now and of those written, then the entries oldest first, by
   * column (fingerprint high halves, low halves, times), copied from the tables.
   */
  write(w: BinaryWriter, changedOnly: boolean): void {
    const table = this.table;
    const slots = table.slots(changedOnly);
    const n = slots.length;
    w.u32(table.size);
    w.u32(n);
    table.writeKeys(w, slots);
    w.f64Gather(this.times, slots);
    table.mark();
  }

  /** Reads a whole store (`replace`), or a change onto the current one: set each entry, then drop the oldest down to the recorded size. */
  read(r: BinaryReader, replace: boolean): void {
    const table = this.table;
    if (replace) table.clear();
    const size = r.u32();
    const n = r.u32();
    const hi = r.u32Array(n);
    const lo = r.u32Array(n);
    const times = r.f64Array(n);
    if (!replace) {
      // The entries the change drops (expired or over the cap since the last link) are the oldest:
      // drop them first, so the table never holds them beside the new ones and keeps the capacity a
      // table that took the events has. A key of the change dropped here comes back as it is set,
      // and the cut below drops one more old entry for it: the same entries, in the same order.
      for (let drop = table.size + this.absent(hi, lo) - size; drop > 0; drop--) table.removeOldest();
    }
    // Room for the keys the link adds, not for those it only moves.
    table.reserve(table.size + (replace ? n : this.absent(hi, lo)));
    for (let i = 0; i < n; i++) {
      // A snapshot's keys are distinct and the table was empty: no need to look them up first.
      const slot = replace && table.size < table.maxEntries ? table.insert(hi[i], lo[i]) : -1;
      if (slot >= 0) this.times[slot] = times[i];
      else this.set(hi[i], lo[i], times[i]);
    }
    while (table.size > size) table.removeOldest();
    table.mark();
  }

  /** How many of the keys are not in the store. */
  private absent(hi: Uint32Array, lo: Uint32Array): number {
    let n = 0;
    for (let i = 0; i < hi.length; i++) if (this.table.find(hi[i], lo[i]) < 0) n++;
    return n;
  }
}
