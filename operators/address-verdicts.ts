import type { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import type { VerdictMessage } from '../schemas/address-messages.ts';
import { COVER_STEPS, firstStepOfMinute, lastStepOfMinute, stepOf, VERDICT_STEP_MS } from '../schemas/verdict-step.ts';
import { keyHi, keyLo } from './address-steps.ts';
import { FingerprintTable } from './fingerprint-table.ts';
import { resized } from './typed-arrays.ts';

/**
 * What one counting partition knows of the address stage's verdicts: the flagged (address, verdict
 * step) pairs read so far, each address partition's verdict watermark, and where it is in the verdict
 * topic. Flags are few; they are kept while a view could still need them (see `expire`). Flags
 * read since the last flush wait, with their topic offsets, as the corrections of the live counters.
 */
export class AddressVerdicts {
  // checkpointed state
  /** The verdict-topic offset of the next message to read. */
  cursor = 0;
  private readonly partitionWatermark: Float64Array;
  private minWatermark = Number.NEGATIVE_INFINITY;
  private step = new Int32Array(0);
  private signalBits = new Uint8Array(0);
  private scores = new Float32Array(0);
  private readonly table: FingerprintTable;
  // not checkpointed: corrections read since the last take (f64 offset, u32 step index, u32 ×2 address)
  private readonly corrections = new BinaryWriter(1024);
  private correctionCount = 0;

  constructor(addressPartitions: number, maxFlags = 1_000_000) {
    this.partitionWatermark = new Float64Array(addressPartitions).fill(Number.NEGATIVE_INFINITY);
    this.table = new FingerprintTable(maxFlags, (capacity) => {
      this.step = resized(this.step, capacity);
      this.signalBits = resized(this.signalBits, capacity);
      this.scores = resized(this.scores, capacity);
    });
  }

  /** Flags held. */
  get size(): number {
    return this.table.size;
  }

  /** The verdict watermark: every step that ends at or before it has all its flags here. */
  get watermark(): number {
    return this.minWatermark;
  }

  private updateWatermark(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const w of this.partitionWatermark) if (w < min) min = w;
    this.minWatermark = min;
  }

  /**
   * Reads the verdict message at `offset` (the next one after the cursor). A flag of an interval
   * longer than a step (a minute, in a message written before verdict steps) is a flag of each of
   * its steps, which together cover what it covered.
   */
  apply(m: VerdictMessage, offset: number): void {
    const stepsPerFlag = Math.max(1, m.intervalMs / VERDICT_STEP_MS);
    for (let i = 0; i < m.count; i++) {
      const first = stepOf(m.start(i));
      for (let step = first; step < first + stepsPerFlag; step++) this.flag(offset, m.addressHi(i), m.addressLo(i), step, m.signals(i), m.score(i));
    }
    const q = m.addressPartition;
    if (q >= this.partitionWatermark.length) throw new RangeError(`a verdict of address partition ${q}, of ${this.partitionWatermark.length}`);
    if (m.watermark > this.partitionWatermark[q]) {
      this.partitionWatermark[q] = m.watermark;
      this.updateWatermark();
    }
    this.cursor = offset + 1;
  }

  /** Holds a flag of (address, step) and the corrections of the steps it covers (each one step of one address). */
  private flag(offset: number, hi: number, lo: number, step: number, signals: number, score: number): void {
    for (let covered = step - COVER_STEPS; covered <= step; covered++) {
      this.corrections.f64(offset);
      this.corrections.u32(covered);
      this.corrections.u32(hi);
      this.corrections.u32(lo);
      this.correctionCount++;
    }
    this.hold(hi, lo, step, signals, score); // already held if a replayed address partition sent it again
  }

  private hold(hi: number, lo: number, step: number, signals: number, score: number): void {
    const khi = keyHi(hi, step);
    const klo = keyLo(lo, step);
    if (this.table.find(khi, klo) >= 0) return;
    if (this.table.size >= this.table.maxEntries) this.table.removeOldest();
    const slot = this.table.insert(khi, klo);
    this.step[slot] = step;
    this.signalBits[slot] = signals;
    this.scores[slot] = score;
  }

  /** The flag that makes a view of `address` in step index `step` a bot (its own step's, or one of the COVER_STEPS after, which cover it), or -1. */
  flagOf(addressHi: number, addressLo: number, step: number): number {
    if (this.table.size === 0) return -1;
    for (let k = 0; k <= COVER_STEPS; k++) {
      const slot = this.table.find(keyHi(addressHi, step + k), keyLo(addressLo, step + k));
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

  /** Whether every view before time `end` (ms) has its final verdict: `end` is at or before the verdict watermark. */
  decidedBefore(end: number): boolean {
    return end <= this.watermark;
  }

  /** Forgets flags of steps before step index `step` (no view that can still come or still waits needs them). */
  expire(step: number): void {
    for (let slot = this.table.oldest(); slot >= 0 && this.step[slot] < step; slot = this.table.oldest()) this.table.removeOldest();
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
      w.u32(this.step[slot]);
      w.u8(this.signalBits[slot]);
      w.f32(this.scores[slot]);
    }
  }

  /**
   * Replaces the state with a written one. Flags written `perMinute` (before verdict steps) are read
   * as flags of both steps of their minute, which together cover what the minute's flag covered.
   */
  read(r: BinaryReader, perMinute = false): void {
    this.cursor = r.f64();
    const partitions = r.u32();
    if (partitions !== this.partitionWatermark.length) throw new RangeError(`verdict state of ${partitions} address partitions; the topic has ${this.partitionWatermark.length}`);
    for (let q = 0; q < partitions; q++) this.partitionWatermark[q] = r.f64();
    this.updateWatermark();
    this.table.clear();
    for (let n = r.u32(); n > 0; n--) {
      const khi = r.u32();
      const klo = r.u32();
      const index = r.u32() | 0;
      const signals = r.u8();
      const score = r.f32();
      // the table key is the address key mixed with the interval index (keyHi, keyLo): mixing again unmixes it
      const hi = keyHi(khi, index);
      const lo = keyLo(klo, index);
      if (!perMinute) this.hold(hi, lo, index, signals, score);
      else for (let step = firstStepOfMinute(index); step <= lastStepOfMinute(index); step++) this.hold(hi, lo, step, signals, score);
    }
    this.corrections.reset();
    this.correctionCount = 0;
  }
}
