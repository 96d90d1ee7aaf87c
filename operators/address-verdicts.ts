import type { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import type { VerdictMessage } from '../schemas/address-messages.ts';
import { keyHi, keyLo } from './address-minutes.ts';
import { COVER_MINUTES } from './address-scorer.ts';
import { FingerprintTable } from './fingerprint-table.ts';
import { resized } from './typed-arrays.ts';

const MINUTE = 60_000;

/**
 * What one counting partition knows of the address stage's verdicts: the flagged (address, minute)
 * pairs read so far, each address partition's verdict watermark, and where it is in the verdict
 * topic. Flags are few; they are kept while a view could still need them (see `expire`). Flags
 * read since the last flush wait, with their topic offsets, as the corrections of the live counters.
 */
export class AddressVerdicts {
  // checkpointed state
  /** The verdict-topic offset of the next message to read. */
  cursor = 0;
  private readonly partitionWatermark: Float64Array;
  private minWatermark = Number.NEGATIVE_INFINITY;
  private minute = new Int32Array(0);
  private signalBits = new Uint8Array(0);
  private scores = new Float32Array(0);
  private readonly table: FingerprintTable;
  // not checkpointed: corrections read since the last take (f64 offset, u32 minute index, u32 ×2 address)
  private readonly corrections = new BinaryWriter(1024);
  private correctionCount = 0;

  constructor(addressPartitions: number, maxFlags = 1_000_000) {
    this.partitionWatermark = new Float64Array(addressPartitions).fill(Number.NEGATIVE_INFINITY);
    this.table = new FingerprintTable(maxFlags, (capacity) => {
      this.minute = resized(this.minute, capacity);
      this.signalBits = resized(this.signalBits, capacity);
      this.scores = resized(this.scores, capacity);
    });
  }

  /** Flags held. */
  get size(): number {
    return this.table.size;
  }

  /** The verdict watermark: every minute that ends at or before it has all its flags here. */
  get watermark(): number {
    return this.minWatermark;
  }

  private updateWatermark(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const w of this.partitionWatermark) if (w < min) min = w;
    this.minWatermark = min;
  }

  /** Reads the verdict message at `offset` (the next one after the cursor). */
  apply(m: VerdictMessage, offset: number): void {
    for (let i = 0; i < m.count; i++) {
      const hi = m.addressHi(i);
      const lo = m.addressLo(i);
      const minute = Math.floor(m.minute(i) / MINUTE);
      this.corrections.f64(offset);
      this.corrections.u32(minute);
      this.corrections.u32(hi);
      this.corrections.u32(lo);
      this.correctionCount++;
      const khi = keyHi(hi, minute);
      const klo = keyLo(lo, minute);
      if (this.table.find(khi, klo) >= 0) continue; // a replayed address partition sent it again
      if (this.table.size >= this.table.maxEntries) this.table.removeOldest();
      const slot = this.table.insert(khi, klo);
      this.minute[slot] = minute;
      this.signalBits[slot] = m.signals(i);
      this.scores[slot] = m.score(i);
    }
    const q = m.addressPartition;
    if (q >= this.partitionWatermark.length) throw new RangeError(`a verdict of address partition ${q}, of ${this.partitionWatermark.length}`);
    if (m.watermark > this.partitionWatermark[q]) {
      this.partitionWatermark[q] = m.watermark;
      this.updateWatermark();
    }
    this.cursor = offset + 1;
  }

  /** The flag that makes a view of `address` in minute index `minute` a bot (its own minute's, or the next one's, which covers it), or -1. */
  flagOf(addressHi: number, addressLo: number, minute: number): number {
    if (this.table.size === 0) return -1;
    for (let k = 0; k <= COVER_MINUTES; k++) {
      const slot = this.table.find(keyHi(addressHi, minute + k), keyLo(addressLo, minute + k));
      if (slot >= 0) return slot;
    }
    return -1;
  }

  signals(slot: number): number {
    return this.signalBits[slot];
  }

  score(slot: number): number {
    return this.scores[slot];
  }

  /** Whether a view in minute index `minute` has its final verdict: its minute has ended at or before the verdict watermark. */
  isFinal(minute: number): boolean {
    return (minute + 1) * MINUTE <= this.watermark;
  }

  /** Forgets flags of minutes before minute index `minute` (no view that can still come or still waits needs them). */
  expire(minute: number): void {
    for (let slot = this.table.oldest(); slot >= 0 && this.minute[slot] < minute; slot = this.table.oldest()) this.table.removeOldest();
  }

  /** The corrections read since the last take, for the live counters' script; `count` of them. */
  takeCorrections(): { bytes: Buffer; count: number } {
    const taken = { bytes: this.corrections.copy(), count: this.correctionCount };
    this.corrections.reset();
    this.correctionCount = 0;
    return taken;
  }

  /** Writes the whole state (flags are few). */
  write(w: BinaryWriter): void {
    w.f64(this.cursor);
    w.u32(this.partitionWatermark.length);
    for (const x of this.partitionWatermark) w.f64(x);
    w.u32(this.table.size);
    for (const slot of this.table.slots(false)) {
      w.u32(this.table.hiOf(slot));
      w.u32(this.table.loOf(slot));
      w.u32(this.minute[slot]);
      w.u8(this.signalBits[slot]);
      w.f32(this.scores[slot]);
    }
  }

  /** Replaces the state with a written one. */
  read(r: BinaryReader): void {
    this.cursor = r.f64();
    const partitions = r.u32();
    if (partitions !== this.partitionWatermark.length) throw new RangeError(`verdict state of ${partitions} address partitions; the topic has ${this.partitionWatermark.length}`);
    for (let q = 0; q < partitions; q++) this.partitionWatermark[q] = r.f64();
    this.updateWatermark();
    this.table.clear();
    for (let n = r.u32(); n > 0; n--) {
      const slot = this.table.insert(r.u32(), r.u32());
      this.minute[slot] = r.u32() | 0;
      this.signalBits[slot] = r.u8();
      this.scores[slot] = r.f32();
    }
    this.corrections.reset();
    this.correctionCount = 0;
  }
}
