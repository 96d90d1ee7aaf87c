import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { fit } from './typed-arrays.ts';

// Index entries: the slot + 1 in the low 24 bits (0 = empty), 8 bits of the key's fingerprint above,
// so most probes that do not match are settled without reading the slot.
const SLOT_BITS = 24;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const TAG_MASK = ~SLOT_MASK;
/** Most entries one table can hold (the index keeps slot numbers in 24 bits). */
export const MAX_TABLE_ENTRIES = SLOT_MASK - 1;
const FIRST_CAPACITY = 1024;
const DEAD = -1;
/** The array `slots` returns, shared by every table of the thread; as long as the largest table. */
let slotScratch = new Int32Array(0);

/** Index entries for a slot capacity: a power of two at least twice the slots (load ≤ 1/2). */
function indexSize(capacity: number): number {
  let size = 1;
  while (size < 2 * capacity) size *= 2;
  return size;
}

/** Bytes of a table's own arrays at a slot capacity (fingerprint, ring position and free list per slot, ring, index); payloads come on top. */
export function tableBytes(capacity: number): number {
  return capacity * (4 + 4 + 4 + 4 + 2 * 4) + 4 * indexSize(capacity);
}

/**
 * Keys as 64-bit fingerprints in typed arrays, no JS object per key: the core of every keyed state.
 * Each key has a slot (its payload lives in the owner's arrays at that index) and a place in the
 * recency order — oldest first, a key moves to the newest end when written — so expiry and the
 * size cap only ever take keys from the oldest end. The order is a ring of slot numbers; a key that
 * moves leaves a dead entry behind, squeezed out when the ring fills up.
 *
 * Checkpoints follow from the order: every key written since the last mark sits after the mark,
 * so "the keys after the mark, in order, plus the size now" is the change, and replaying it onto
 * the previous state (write each key, then drop the oldest down to the size) gives this table.
 */
export class FingerprintTable {
  // configuration
  readonly maxEntries: number;
  private readonly resize: (capacity: number) => void;
  // state: slots
  private capacity = 0;
  private hi = new Uint32Array(0);
  private lo = new Uint32Array(0);
  /** Ring index of each slot's entry in `order`. */
  private pos = new Int32Array(0);
  private free = new Int32Array(0);
  private freeCount = 0;
  private used = 0;
  size = 0;
  // state: the recency order (a ring of slots, DEAD where a key moved on) and the index
  private order = new Int32Array(0);
  private first = 0;
  private count = 0;
  private index = new Uint32Array(0);
  private indexMask = 0;
  /** Entries of `order` (from `first`) written before the last mark. */
  private clean = 0;

  /** `resize` is called with the new slot capacity whenever the table grows: the owner grows its payload arrays with it. */
  constructor(maxEntries: number, resize: (capacity: number) => void) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_TABLE_ENTRIES) {
      throw new RangeError(`a table holds 1 to ${MAX_TABLE_ENTRIES} entries, got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
    this.resize = resize;
    this.grow(Math.min(FIRST_CAPACITY, maxEntries));
  }

  /** The slot of a key, or -1. */
  find(hi: number, lo: number): number {
    const tag = hi & TAG_MASK;
    const index = this.index;
    const mask = this.indexMask;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const e = index[i];
      if (e === 0) return -1;
      if ((e & TAG_MASK) === tag) {
        const slot = (e & SLOT_MASK) - 1;
        if (this.lo[slot] === lo && this.hi[slot] === hi) return slot;
      }
    }
  }

  /** Adds an absent key as the newest entry and returns its slot; the caller keeps size ≤ maxEntries (see `oldest`). */
  insert(hi: number, lo: number): number {
    if (this.size >= this.maxEntries) throw new RangeError('table full: remove the oldest entry first');
    if (this.used === this.capacity && this.freeCount === 0) this.grow(Math.min(this.capacity * 2, this.maxEntries));
    const slot = this.freeCount > 0 ? this.free[--this.freeCount] : this.used++;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.indexPut(hi, lo, slot);
    this.append(slot);
    this.size++;
    return slot;
  }

  /** Moves a key to the newest end. */
  touch(slot: number): void {
    this.order[this.pos[slot]] = DEAD;
    this.append(slot);
  }

  /** The slot of the oldest key, or -1 when empty. */
  oldest(): number {
    const order = this.order;
    const n = order.length;
    while (this.count > 0) {
      const slot = order[this.first];
      if (slot !== DEAD) return slot;
      this.first = this.first + 1 === n ? 0 : this.first + 1;
      this.count--;
      if (this.clean > 0) this.clean--;
    }
    return -1;
  }

  /** Removes the oldest key (after `oldest()` returned its slot); its slot is free for reuse. */
  removeOldest(): void {
    const slot = this.oldest();
    if (slot < 0) return;
    this.first = this.first + 1 === this.order.length ? 0 : this.first + 1;
    this.count--;
    if (this.clean > 0) this.clean--;
    this.indexDelete(this.hi[slot], this.lo[slot]);
    this.free[this.freeCount++] = slot;
    this.size--;
  }

  /** Bytes of the table's own arrays as allocated now. */
  memoryBytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.pos.byteLength + this.free.byteLength + this.order.byteLength + this.index.byteLength;
  }

  /** The key's fingerprint halves. */
  hiOf(slot: number): number {
    return this.hi[slot];
  }

  loOf(slot: number): number {
    return this.lo[slot];
  }

  /** The fingerprints of `slots`, by column: every high half, then every low half. */
  writeKeys(w: BinaryWriter, slots: Int32Array): void {
    w.u32Gather(this.hi, slots);
    w.u32Gather(this.lo, slots);
  }

  /**
   * Every slot, oldest first — or only those written since the last mark. The array is this
   * thread's one scratch array, valid until the next call on any table: a checkpoint reads it at
   * once, and reusing it spares fresh pages (a first touch of memory costs more than the copy).
   */
  slots(changedOnly: boolean): Int32Array {
    const order = this.order;
    const n = order.length;
    const out = (slotScratch = fit(slotScratch, changedOnly ? this.count - this.clean : this.size));
    let j = 0;
    for (let k = changedOnly ? this.clean : 0, i = (this.first + k) % n; k < this.count; k++, i = i + 1 === n ? 0 : i + 1) {
      const slot = order[i];
      if (slot !== DEAD) out[j++] = slot;
    }
    return out.subarray(0, j);
  }

  /** Makes room for `entries` keys at once (a restore), instead of growing step by step. */
  reserve(entries: number): void {
    const wanted = Math.min(Math.max(entries, this.capacity), this.maxEntries);
    if (wanted > this.capacity) this.grow(wanted);
  }

  /** Starts a new change set: what is written from now on is the next checkpoint's change. */
  mark(): void {
    this.clean = this.count;
  }

  /** Empties the table (before a restore). */
  clear(): void {
    this.index.fill(0);
    this.freeCount = 0;
    this.used = 0;
    this.size = 0;
    this.first = 0;
    this.count = 0;
    this.clean = 0;
  }

  private append(slot: number): void {
    if (this.count === this.order.length) this.compact();
    let i = this.first + this.count;
    if (i >= this.order.length) i -= this.order.length;
    this.order[i] = slot;
    this.pos[slot] = i;
    this.count++;
  }

  /** Squeezes dead entries out of the ring, keeping the order (and where the mark falls in it). */
  private compact(): void {
    const order = this.order;
    const n = order.length;
    let write = this.first;
    let live = 0;
    let clean = 0;
    for (let k = 0, read = this.first; k < this.count; k++, read = read + 1 === n ? 0 : read + 1) {
      const slot = order[read];
      if (slot === DEAD) continue;
      if (k < this.clean) clean++;
      order[write] = slot;
      this.pos[slot] = write;
      write = write + 1 === n ? 0 : write + 1;
      live++;
    }
    this.count = live;
    this.clean = clean;
  }

  private grow(capacity: number): void {
    const old = { hi: this.hi, lo: this.lo, pos: this.pos, free: this.free, order: this.order };
    this.hi = new Uint32Array(capacity);
    this.hi.set(old.hi);
    this.lo = new Uint32Array(capacity);
    this.lo.set(old.lo);
    this.pos = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    this.free.set(old.free);
    // The ring keeps the order from its oldest entry on, starting at 0.
    this.order = new Int32Array(2 * capacity);
    const n = old.order.length;
    for (let k = 0, i = this.first; k < this.count; k++, i = i + 1 === n ? 0 : i + 1) {
      const slot = old.order[i];
      this.order[k] = slot;
      if (slot !== DEAD) this.pos[slot] = k;
    }
    this.first = 0;
    // Load ≤ 1/2: linear probing then settles most lookups in one or two index entries.
    const size = indexSize(capacity);
    this.index = new Uint32Array(size);
    this.indexMask = size - 1;
    this.capacity = capacity;
    for (let k = 0; k < this.count; k++) {
      const slot = this.order[k];
      if (slot !== DEAD) this.indexPut(this.hi[slot], this.lo[slot], slot);
    }
    this.resize(capacity);
  }

  private indexPut(hi: number, lo: number, slot: number): void {
    const mask = this.indexMask;
    let i = lo & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = ((hi & TAG_MASK) | (slot + 1)) >>> 0;
  }

  /** Removes a key from the index by backward-shift deletion (linear probing needs no tombstones). */
  private indexDelete(hi: number, lo: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let i = lo & mask;
    for (;;) {
      const slot = (index[i] & SLOT_MASK) - 1;
      if (slot >= 0 && this.lo[slot] === lo && this.hi[slot] === hi) break;
      i = (i + 1) & mask;
    }
    // Shift later entries of the probe run back while their home is not after the hole.
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const s = (index[j] & SLOT_MASK) - 1;
      const home = this.lo[s] & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }
}
