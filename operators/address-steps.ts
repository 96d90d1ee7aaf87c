import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { FingerprintTable } from './fingerprint-table.ts';
import { resized } from './typed-arrays.ts';

/** Distinct videos kept per (address, step): the smallest video hashes, so the set does not depend on arrival order. */
export const VIDEO_SKETCH = 16;
/** Steps one bit of an address's bitmap of recent steps stands for (see `recentGroups`). */
export const RECENT_GROUP_STEPS = 2;
/** Groups of steps an address's bitmap covers: 64 steps, 32 minutes (the longest default window is 30). */
export const RECENT_GROUPS = 32;
const ALL_GROUPS = 0xffffffff;

/** The group of a step index in the bitmap of recent steps. */
export function groupOf(step: number): number {
  return Math.floor(step / RECENT_GROUP_STEPS);
}

/**
 * Per (address, verdict step) aggregates of the address stage, in typed arrays: views, views whose watch
 * time stopped in the watch-pattern band, whether the address is in a datacenter range, and the
 * VIDEO_SKETCH smallest video hashes (a bottom-k sketch: exact below VIDEO_SKETCH distinct videos, and
 * the union of two sketches is the sketch of the union). Every aggregate is a sum or a set, so the
 * table is the same whatever order its records came in. Keys are kept in the order they were last
 * written, so the oldest steps leave first and a checkpoint writes only what changed.
 */
export class AddressSteps {
  // checkpointed state: per slot
  private step = new Int32Array(0);
  private addressHi = new Uint32Array(0);
  private addressLo = new Uint32Array(0);
  private viewCount = new Uint32Array(0);
  private bandCount = new Uint32Array(0);
  private dc = new Uint8Array(0);
  private videoCount = new Uint8Array(0);
  private videos = new Uint32Array(0);
  /** Not checkpointed: 1 once judging the key's step showed its address cannot be flagged while it has no key after it (see `settle`). */
  private settled = new Uint8Array(0);
  private readonly table: FingerprintTable;
  /** Slots by step index, as they were added (a slot the cap evicted and reused elsewhere stays listed: check its step). */
  private readonly byStep = new Map<number, { slots: Int32Array; n: number }>();
  // derived from the keys, not checkpointed (a restore rebuilds it as it reads them): per address,
  // the latest step it has a key in and which of the RECENT_GROUPS groups of steps up to that one's
  // have one too (exact unless the cap evicted the address: see `evicted`)
  private readonly byAddress: FingerprintTable;
  private lastStep = new Int32Array(0);
  /** Bit d: the address has (or had) a key in a step of group groupOf(lastStep) − d. */
  private recent = new Uint32Array(0);
  /** Keys dropped by the size cap while they could still matter. */
  evicted = 0;

  constructor(readonly maxKeys: number) {
    this.table = new FingerprintTable(maxKeys, (capacity) => {
      this.step = resized(this.step, capacity);
      this.addressHi = resized(this.addressHi, capacity);
      this.addressLo = resized(this.addressLo, capacity);
      this.viewCount = resized(this.viewCount, capacity);
      this.bandCount = resized(this.bandCount, capacity);
      this.dc = resized(this.dc, capacity);
      this.videoCount = resized(this.videoCount, capacity);
      this.videos = resized(this.videos, capacity * VIDEO_SKETCH);
      this.settled = resized(this.settled, capacity);
    });
    this.byAddress = new FingerprintTable(maxKeys, (capacity) => {
      this.lastStep = resized(this.lastStep, capacity);
      this.recent = resized(this.recent, capacity);
    });
  }

  get size(): number {
    return this.table.size;
  }

  /** Bytes of the table's arrays as allocated now. */
  memoryBytes(): number {
    return this.table.memoryBytes() + this.step.byteLength * 6 + this.dc.byteLength * 3 + this.videos.byteLength
      + this.byAddress.memoryBytes() + this.lastStep.byteLength + this.recent.byteLength;
  }

  /** The slot of (address, step index), or -1. */
  find(addressHi: number, addressLo: number, step: number): number {
    return this.table.find(keyHi(addressHi, step), keyLo(addressLo, step));
  }

  /** Adds one view of a video (its 32-bit hash) to (address, step index). */
  add(addressHi: number, addressLo: number, step: number, video: number, band: boolean, datacenter: boolean): void {
    const slot = this.slotFor(addressHi, addressLo, step);
    this.viewCount[slot]++;
    if (band) this.bandCount[slot]++;
    if (datacenter) this.dc[slot] = 1;
    this.addVideo(slot, video >>> 0);
  }

  /**
   * Which of the RECENT_GROUPS groups of steps ending with group `group` (see `groupOf`) may hold a
   * key of the address: bit k for group − k. A clear bit means surely none, which spares the lookups
   * (an address is seen in a few steps of a verdict's window, and a window is up to 60 lookups).
   */
  recentGroups(addressHi: number, addressLo: number, group: number): number {
    const e = this.byAddress.find(addressHi, addressLo);
    if (e < 0) return ALL_GROUPS; // not known: look everywhere
    const d = groupOf(this.lastStep[e]) - group;
    if (d < 0) return d <= -RECENT_GROUPS ? 0 : (this.recent[e] << -d) >>> 0; // the groups after the latest have none
    if (d >= RECENT_GROUPS) return ALL_GROUPS;
    // groups older than the bitmap reaches are not known
    return ((this.recent[e] >>> d) | (d === 0 ? 0 : ALL_GROUPS << (RECENT_GROUPS - d))) >>> 0;
  }

  /**
   * Marks a key whose step was judged quiet on less (AddressJudgement.quietOnLess): the windows of a
   * later step that hold no newer key of the address hold less, so judging it there would not flag
   * it. Derived, not checkpointed; cleared when the key gets more views or the rules change.
   */
  settle(slot: number): void {
    this.settled[slot] = 1;
  }

  isSettled(slot: number): boolean {
    return this.settled[slot] === 1;
  }

  /** Clears every key's `settle` mark (the rules changed). */
  unsettleAll(): void {
    this.settled.fill(0);
  }

  /** The latest step the address has a key in, or +Infinity if it is not known (look everywhere). */
  latestStep(addressHi: number, addressLo: number): number {
    const e = this.byAddress.find(addressHi, addressLo);
    return e < 0 ? Number.POSITIVE_INFINITY : this.lastStep[e];
  }

  addressHiOf(slot: number): number {
    return this.addressHi[slot];
  }

  addressLoOf(slot: number): number {
    return this.addressLo[slot];
  }

  views(slot: number): number {
    return this.viewCount[slot];
  }

  banded(slot: number): number {
    return this.bandCount[slot];
  }

  datacenter(slot: number): boolean {
    return this.dc[slot] === 1;
  }

  /** Merges a slot's video sketch into `sketch` (sorted, `n` long, at most VIDEO_SKETCH); returns the new length. */
  mergeVideos(slot: number, sketch: Uint32Array, n: number): number {
    const base = slot * VIDEO_SKETCH;
    for (let k = 0; k < this.videoCount[slot]; k++) n = insertSorted(sketch, 0, n, this.videos[base + k]);
    return n;
  }

  /** Step indexes with keys, in no order. */
  steps(): IterableIterator<number> {
    return this.byStep.keys();
  }

  /** Calls `fn` with every slot of step index `step`. */
  forEachOf(step: number, fn: (slot: number) => void): void {
    const list = this.byStep.get(step);
    if (list) for (let i = 0; i < list.n; i++) if (this.step[list.slots[i]] === step) fn(list.slots[i]);
  }

  /** Drops the least recently written keys while their step index is below `step`, and the lists of those steps. */
  expire(step: number): void {
    for (const s of this.byStep.keys()) if (s < step) this.byStep.delete(s);
    for (let slot = this.table.oldest(); slot >= 0 && this.step[slot] < step; slot = this.table.oldest()) this.table.removeOldest();
    const byAddress = this.byAddress;
    const group = groupOf(step);
    for (let e = byAddress.oldest(); e >= 0 && groupOf(this.lastStep[e]) < group; e = byAddress.oldest()) byAddress.removeOldest();
  }

  /** Writes every key or those written since the last write (then marks): the size, then per key its address, step and aggregates. */
  write(w: BinaryWriter, changedOnly: boolean): void {
    w.u32(this.table.size);
    w.f64(this.evicted);
    const slots = this.table.slots(changedOnly);
    w.u32(slots.length);
    for (const slot of slots) {
      w.u32(this.addressHi[slot]);
      w.u32(this.addressLo[slot]);
      w.u32(this.step[slot]);
      w.u32(this.viewCount[slot]);
      w.u32(this.bandCount[slot]);
      w.u8(this.dc[slot]);
      w.u8(this.videoCount[slot]);
      for (let k = 0; k < this.videoCount[slot]; k++) w.u32(this.videos[slot * VIDEO_SKETCH + k]);
    }
    this.table.mark();
  }

  /**
   * Reads every key (`replace`) or a change onto this table: each key written as the most recent,
   * then the oldest dropped down to the recorded size. `stepOfStored` maps a stored interval index
   * to a step index (state written per minute is read into the second step of its minute).
   */
  read(r: BinaryReader, replace: boolean, stepOfStored: (index: number) => number = (index) => index): void {
    if (replace) {
      this.table.clear();
      this.byStep.clear();
      this.byAddress.clear();
    }
    const size = r.u32();
    this.evicted = r.f64();
    const changed = r.u32();
    this.table.reserve(this.table.size + changed);
    for (let n = changed; n > 0; n--) {
      const addressHi = r.u32();
      const addressLo = r.u32();
      const step = stepOfStored(r.u32() | 0);
      const slot = this.slotFor(addressHi, addressLo, step);
      this.viewCount[slot] = r.u32();
      this.bandCount[slot] = r.u32();
      this.dc[slot] = r.u8();
      const videos = r.u8();
      if (videos > VIDEO_SKETCH) throw new RangeError(`binary state: ${videos} videos in an address sketch of ${VIDEO_SKETCH}`);
      this.videoCount[slot] = videos;
      for (let k = 0; k < videos; k++) this.videos[slot * VIDEO_SKETCH + k] = r.u32();
    }
    while (this.table.size > size) this.table.removeOldest();
    this.table.mark();
  }

  /** The slot of (address, step), made the most recent; a new one starts empty (evicting the oldest key when full). */
  private slotFor(addressHi: number, addressLo: number, step: number): number {
    const table = this.table;
    const hi = keyHi(addressHi, step);
    const lo = keyLo(addressLo, step);
    let slot = table.find(hi, lo);
    if (slot >= 0) {
      table.touch(slot);
      this.settled[slot] = 0;
      return slot;
    }
    if (table.size >= table.maxEntries) {
      table.removeOldest();
      this.evicted++;
    }
    slot = table.insert(hi, lo);
    let list = this.byStep.get(step);
    if (!list) this.byStep.set(step, (list = { slots: new Int32Array(64), n: 0 }));
    if (list.n === list.slots.length) {
      const bigger = new Int32Array(2 * list.n);
      bigger.set(list.slots);
      list.slots = bigger;
    }
    list.slots[list.n++] = slot;
    this.step[slot] = step;
    this.addressHi[slot] = addressHi;
    this.addressLo[slot] = addressLo;
    this.viewCount[slot] = 0;
    this.bandCount[slot] = 0;
    this.dc[slot] = 0;
    this.videoCount[slot] = 0;
    this.settled[slot] = 0;
    this.noteStep(addressHi, addressLo, step);
    return slot;
  }

  /** Records in `byAddress` that the address has a key in `step`; when full, the least recently active address is forgotten (counted as evicted). */
  private noteStep(addressHi: number, addressLo: number, step: number): void {
    const byAddress = this.byAddress;
    let e = byAddress.find(addressHi, addressLo);
    if (e < 0) {
      if (byAddress.size >= byAddress.maxEntries) {
        byAddress.removeOldest();
        this.evicted++;
      }
      e = byAddress.insert(addressHi, addressLo);
      this.lastStep[e] = step;
      this.recent[e] = 1;
      return;
    }
    byAddress.touch(e);
    if (step > this.lastStep[e]) {
      const d = groupOf(this.lastStep[e]) - groupOf(step);
      this.lastStep[e] = step;
      if (d < 0) this.recent[e] = d <= -RECENT_GROUPS ? 1 : ((this.recent[e] << -d) | 1) >>> 0;
      return;
    }
    const d = groupOf(this.lastStep[e]) - groupOf(step);
    if (d < RECENT_GROUPS) {
      this.recent[e] = (this.recent[e] | (1 << d)) >>> 0;
    }
  }

  private addVideo(slot: number, video: number): void {
    this.videoCount[slot] = insertSorted(this.videos, slot * VIDEO_SKETCH, this.videoCount[slot], video);
  }
}

/**
 * Inserts `x` into the sorted run `a[base … base + n)` holding at most VIDEO_SKETCH values, keeping
 * the smallest ones without repeats; returns the run's new length.
 */
export function insertSorted(a: Uint32Array, base: number, n: number, x: number): number {
  let i = n;
  while (i > 0 && a[base + i - 1] > x) i--;
  if (i > 0 && a[base + i - 1] === x) return n;
  if (i === VIDEO_SKETCH) return n;
  const end = Math.min(n, VIDEO_SKETCH - 1);
  for (let k = end; k > i; k--) a[base + k] = a[base + k - 1];
  a[base + i] = x;
  return Math.min(n + 1, VIDEO_SKETCH);
}

/**
 * The table key of (address, step index), high half: the address key (a keyed hash) mixed with
 * the step, so one address's steps are different keys; two pairs collide only if their address
 * keys nearly do, at 2^-64.
 */
export function keyHi(addressHi: number, step: number): number {
  return (addressHi ^ Math.imul(step, 0x9e3779b1)) >>> 0;
}

/** The table key of (address, step index), low half. */
export function keyLo(addressLo: number, step: number): number {
  return (addressLo ^ Math.imul(step ^ 0x5bd1e995, 0x85ebca6b)) >>> 0;
}
