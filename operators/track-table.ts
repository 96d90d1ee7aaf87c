import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { FingerprintTable } from './fingerprint-table.ts';
import { resized } from './typed-arrays.ts';

/** Observation blocks of one size (2^class observations each): event times and tags, and the free blocks. */
interface Slab {
  ts: Float64Array;
  tag: Uint32Array;
  blocks: number;
  free: number[];
}

const MAX_CLASS = 16;

/**
 * Keyed, bounded sliding-window state for the bot scorer: per key fingerprint, its last few
 * observations (event time and a 32-bit tag) in arrival order, at most a capacity of them, and the
 * latest event time it was seen at. Observations live in blocks of power-of-two sizes, a key moving
 * to a bigger block as its track grows, so nothing per key is a JS object. Keys are kept least
 * recently seen first: the TTL sweep drops keys whose observations have all left every window and
 * the size cap evicts the least recently seen key. Everything follows the event sequence, never
 * the wall clock, so a replay rebuilds the same table.
 *
 * After `view(slot)`, a key's observations are `obsTs[obsAt(i)]` and `obsTag[obsAt(i)]`, i < `obsLen`.
 */
export class TrackTable {
  // checkpointed state: per slot, the latest event time and where its observations are
  private lastTs = new Float64Array(0);
  private cls = new Int8Array(0);
  private block = new Int32Array(0);
  private start = new Int32Array(0);
  private len = new Int32Array(0);
  private readonly slabs: Slab[] = [];
  // scratch space for reading tracks
  private scratchTs = new Float64Array(64);
  private scratchTags = new Uint32Array(64);
  private readonly table: FingerprintTable;
  /** Keys dropped by the size cap while they could still matter (decisions may differ from an unbounded table). */
  evicted = 0;
  /** Keys dropped because nothing of theirs is inside any window any more (decisions unaffected). */
  expired = 0;
  // the key `view` selected
  obsTs: Float64Array = new Float64Array(0);
  obsTag: Uint32Array = new Uint32Array(0);
  obsLen = 0;
  private obsBase = 0;
  private obsStart = 0;
  private obsMask = 0;

  constructor(readonly maxKeys: number) {
    this.table = new FingerprintTable(maxKeys, (capacity) => {
      this.lastTs = resized(this.lastTs, capacity);
      this.cls = resized(this.cls, capacity);
      this.block = resized(this.block, capacity);
      this.start = resized(this.start, capacity);
      this.len = resized(this.len, capacity);
    });
  }

  get size(): number {
    return this.table.size;
  }

  /** Bytes of the table's arrays as allocated now: keys, per-key fields and observation blocks. */
  memoryBytes(): number {
    let n = this.table.memoryBytes() + this.lastTs.byteLength + this.cls.byteLength + this.block.byteLength + this.start.byteLength + this.len.byteLength;
    for (const slab of this.slabs) if (slab) n += slab.ts.byteLength + slab.tag.byteLength + 4 * slab.free.length;
    return n;
  }

  /** Appends an observation to a key's track (keeping its last `capacity`), adding the key if new; returns its slot. */
  record(hi: number, lo: number, ts: number, tag: number, capacity: number): number {
    const table = this.table;
    let slot = table.find(hi, lo);
    if (slot < 0) {
      if (table.size >= table.maxEntries) {
        this.removeOldest();
        this.evicted++;
      }
      slot = table.insert(hi, lo);
      this.lastTs[slot] = ts;
      this.allocate(slot, 0);
    } else {
      table.touch(slot);
      if (ts > this.lastTs[slot]) this.lastTs[slot] = ts;
    }
    this.append(slot, ts, tag, capacity);
    return slot;
  }

  /** Selects a key's observations for reading (`obsTs`, `obsTag`, `obsLen`, `obsAt`). */
  view(slot: number): void {
    const c = this.cls[slot];
    const slab = this.slabs[c];
    this.obsTs = slab.ts;
    this.obsTag = slab.tag;
    this.obsLen = this.len[slot];
    this.obsBase = this.block[slot] << c;
    this.obsStart = this.start[slot];
    this.obsMask = (1 << c) - 1;
  }

  /** Where the viewed key's i-th observation (oldest first) is in `obsTs` and `obsTag`. */
  obsAt(i: number): number {
    return this.obsBase + ((this.obsStart + i) & this.obsMask);
  }

  /** Drops up to `budget` keys last seen `ttlMs` or more before `now`, from the least recently seen end. */
  expire(now: number, ttlMs: number, budget: number): void {
    while (budget-- > 0) {
      const slot = this.table.oldest();
      if (slot < 0 || now - this.lastTs[slot] < ttlMs) return;
      this.removeOldest();
      this.expired++;
    }
  }

  /** Writes the whole table or the keys seen since the last write (then marks it): counts, then per key its fingerprint, latest time and observations. */
  write(w: BinaryWriter, changedOnly: boolean): void {
    const table = this.table;
    w.u32(table.size);
    w.f64(this.evicted);
    w.f64(this.expired);
    const slots = table.slots(changedOnly);
    w.u32(slots.length);
    // One claim per key (fingerprint, latest time, count, then time and tag per observation): a
    // checkpoint writes hundreds of thousands of tracks, and a checked write per field took ~1.5× as long.
    for (const slot of slots) {
      this.view(slot);
      const len = this.obsLen;
      let at = w.claim(20 + 12 * len);
      const dv = w.dataView;
      dv.setUint32(at, table.hiOf(slot), true);
      dv.setUint32(at + 4, table.loOf(slot), true);
      dv.setFloat64(at + 8, this.lastTs[slot], true);
      dv.setUint32(at + 16, len, true);
      at += 20;
      for (let i = 0; i < len; i++, at += 12) {
        const o = this.obsAt(i);
        dv.setFloat64(at, this.obsTs[o], true);
        dv.setUint32(at + 8, this.obsTag[o], true);
      }
    }
    table.mark();
  }

  /** Reads a whole table (`replace`) or a change onto this one: each key's track replaced, then the least recently seen dropped down to the recorded size. */
  read(r: BinaryReader, replace: boolean): void {
    const table = this.table;
    if (replace) {
      table.clear();
      this.slabs.length = 0;
    }
    const size = r.u32();
    this.evicted = r.f64();
    this.expired = r.f64();
    const n = r.u32();
    table.reserve(table.size + n);
    for (let k = 0; k < n; k++) {
      const hi = r.u32();
      const lo = r.u32();
      const lastTs = r.f64();
      const len = r.u32();
      if (this.scratchTs.length < len) {
        this.scratchTs = new Float64Array(len);
        this.scratchTags = new Uint32Array(len);
      }
      for (let i = 0; i < len; i++) {
        this.scratchTs[i] = r.f64();
        this.scratchTags[i] = r.u32();
      }
      this.put(hi, lo, lastTs, this.scratchTs, this.scratchTags, len);
    }
    while (table.size > size) this.removeOldest();
    table.mark();
  }

  /** Sets a key's whole track (its latest time and `len` observations, oldest first) as the most recently seen, adding the key if new. */
  put(hi: number, lo: number, lastTs: number, ts: ArrayLike<number>, tags: ArrayLike<number>, len: number): void {
    const table = this.table;
    let slot = table.find(hi, lo);
    if (slot >= 0) {
      table.touch(slot);
      this.release(slot);
    } else {
      if (table.size >= table.maxEntries) this.removeOldest();
      slot = table.insert(hi, lo);
    }
    this.lastTs[slot] = lastTs;
    let c = 0;
    while (1 << c < len) c++;
    this.allocate(slot, c);
    for (let i = 0; i < len; i++) this.append(slot, ts[i], tags[i], len);
  }

  private append(slot: number, ts: number, tag: number, capacity: number): void {
    let len = this.len[slot];
    let c = this.cls[slot];
    // A lowered capacity (a rules reload) drops the oldest observations first.
    while (len >= capacity && len > 0) {
      this.start[slot] = (this.start[slot] + 1) & ((1 << c) - 1);
      len--;
    }
    if (len === 1 << c) {
      this.move(slot, c + 1);
      c++;
    }
    const slab = this.slabs[c];
    const at = (this.block[slot] << c) + ((this.start[slot] + len) & ((1 << c) - 1));
    slab.ts[at] = ts;
    slab.tag[at] = tag;
    this.len[slot] = len + 1;
  }

  /** Moves a key's observations, in order, into a block of class `c`. */
  private move(slot: number, c: number): void {
    if (c > MAX_CLASS) throw new RangeError(`a track holds at most ${1 << MAX_CLASS} observations`);
    const from = this.cls[slot];
    const fromSlab = this.slabs[from];
    const fromBase = this.block[slot] << from;
    const fromStart = this.start[slot];
    const fromMask = (1 << from) - 1;
    const len = this.len[slot];
    this.release(slot);
    this.allocate(slot, c);
    const slab = this.slabs[c];
    const base = this.block[slot] << c;
    for (let i = 0; i < len; i++) {
      const at = fromBase + ((fromStart + i) & fromMask);
      slab.ts[base + i] = fromSlab.ts[at];
      slab.tag[base + i] = fromSlab.tag[at];
    }
    this.len[slot] = len;
  }

  private allocate(slot: number, c: number): void {
    const slab = (this.slabs[c] ??= { ts: new Float64Array(64 << c), tag: new Uint32Array(64 << c), blocks: 0, free: [] });
    let b = slab.free.pop();
    if (b === undefined) {
      b = slab.blocks++;
      if (slab.blocks << c > slab.ts.length) {
        slab.ts = resized(slab.ts, 2 * slab.ts.length);
        slab.tag = resized(slab.tag, 2 * slab.tag.length);
      }
    }
    this.cls[slot] = c;
    this.block[slot] = b;
    this.start[slot] = 0;
    this.len[slot] = 0;
  }

  private release(slot: number): void {
    this.slabs[this.cls[slot]].free.push(this.block[slot]);
  }

  private removeOldest(): void {
    const slot = this.table.oldest();
    if (slot < 0) return;
    this.release(slot);
    this.table.removeOldest();
  }
}
