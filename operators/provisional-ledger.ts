import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { keyHi, keyLo } from './address-minutes.ts';
import { fit } from './typed-arrays.ts';
import type { ViewRecord } from './view-record.ts';

const MINUTE = 60_000;

/**
 * The provisionally counted views of one live flush, per (minute, address) and video: what the live
 * counters' script writes into the partition's provisional ledger beside the increments, so that a
 * flag for that address and minute can take exactly those views back (see sinks/commit.lua).
 * Typed arrays and open-addressing indexes, as LiveCounts: nothing per view is a JS object.
 */
export class ProvisionalLedger {
  // groups: (minute index, address key), their first entry
  private groups = 0;
  private groupMinute = new Int32Array(64);
  private groupHi = new Uint32Array(64);
  private groupLo = new Uint32Array(64);
  private groupHead = new Int32Array(64);
  private groupSize = new Uint32Array(64);
  private groupIndex = new Int32Array(128);
  // entries: their group, the video, its views, the next entry of the group
  private entries = 0;
  private entryGroup = new Int32Array(64);
  private entryVideoHi = new Uint32Array(64);
  private entryVideoLo = new Uint32Array(64);
  private entryCount = new Uint32Array(64);
  private entryNext = new Int32Array(64);
  private entryVideo: string[] = [];
  private entryIndex = new Int32Array(128);
  /** Views gathered. */
  views = 0;

  /** Adds a provisionally counted view (its address key and video fingerprint set). */
  add(r: ViewRecord): void {
    const g = this.group(Math.floor(r.event!.ts / MINUTE), r.addressHi, r.addressLo);
    const mask = this.entryIndex.length - 1;
    const vhi = r.videoHi;
    const vlo = r.videoLo;
    for (let i = (vlo ^ Math.imul(g + 1, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const e = this.entryIndex[i] - 1;
      if (e < 0) {
        this.newEntry(i, g, vhi, vlo, r.event!.video_id);
        break;
      }
      if (this.entryGroup[e] === g && this.entryVideoLo[e] === vlo && this.entryVideoHi[e] === vhi) {
        this.entryCount[e]++;
        break;
      }
    }
    this.views++;
  }

  /**
   * The ledger payload: per (minute, address) u32 minute index, u32 ×2 address key, u32 entries,
   * then each entry's video id (u16 length, UTF-8) and u32 views.
   */
  write(w: BinaryWriter): void {
    for (let g = 0; g < this.groups; g++) {
      w.u32(this.groupMinute[g]);
      w.u32(this.groupHi[g]);
      w.u32(this.groupLo[g]);
      w.u32(this.groupSize[g]);
      for (let e = this.groupHead[g]; e >= 0; e = this.entryNext[e]) {
        const id = Buffer.from(this.entryVideo[e]);
        w.u16(id.length);
        w.bytes(id);
        w.u32(this.entryCount[e]);
      }
    }
  }

  /** Forgets everything gathered, keeping the memory. */
  clear(): void {
    this.groupIndex.fill(0);
    this.entryIndex.fill(0);
    this.groups = 0;
    this.entries = 0;
    this.entryVideo.length = 0;
    this.views = 0;
  }

  private group(minute: number, hi: number, lo: number): number {
    const mask = this.groupIndex.length - 1;
    const h = keyLo(lo, minute) ^ keyHi(hi, minute);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const g = this.groupIndex[i] - 1;
      if (g < 0) return this.newGroup(i, minute, hi, lo);
      if (this.groupMinute[g] === minute && this.groupLo[g] === lo && this.groupHi[g] === hi) return g;
    }
  }

  private newGroup(slot: number, minute: number, hi: number, lo: number): number {
    const g = this.groups++;
    this.groupMinute = fit(this.groupMinute, g + 1);
    this.groupHi = fit(this.groupHi, g + 1);
    this.groupLo = fit(this.groupLo, g + 1);
    this.groupHead = fit(this.groupHead, g + 1);
    this.groupSize = fit(this.groupSize, g + 1);
    this.groupMinute[g] = minute;
    this.groupHi[g] = hi;
    this.groupLo[g] = lo;
    this.groupHead[g] = -1;
    this.groupSize[g] = 0;
    this.groupIndex[slot] = g + 1;
    if (2 * this.groups > this.groupIndex.length) {
      this.groupIndex = new Int32Array(2 * this.groupIndex.length);
      const mask = this.groupIndex.length - 1;
      for (let k = 0; k < this.groups; k++) {
        let i = (keyLo(this.groupLo[k], this.groupMinute[k]) ^ keyHi(this.groupHi[k], this.groupMinute[k])) & mask;
        while (this.groupIndex[i] !== 0) i = (i + 1) & mask;
        this.groupIndex[i] = k + 1;
      }
    }
    return g;
  }

  private newEntry(slot: number, g: number, vhi: number, vlo: number, video: string): void {
    const e = this.entries++;
    this.entryGroup = fit(this.entryGroup, e + 1);
    this.entryVideoHi = fit(this.entryVideoHi, e + 1);
    this.entryVideoLo = fit(this.entryVideoLo, e + 1);
    this.entryCount = fit(this.entryCount, e + 1);
    this.entryNext = fit(this.entryNext, e + 1);
    this.entryGroup[e] = g;
    this.entryVideoHi[e] = vhi;
    this.entryVideoLo[e] = vlo;
    this.entryCount[e] = 1;
    this.entryVideo[e] = video;
    this.entryNext[e] = this.groupHead[g];
    this.groupHead[g] = e;
    this.groupSize[g]++;
    this.entryIndex[slot] = e + 1;
    if (2 * this.entries > this.entryIndex.length) {
      this.entryIndex = new Int32Array(2 * this.entryIndex.length);
      const mask = this.entryIndex.length - 1;
      for (let k = 0; k < this.entries; k++) {
        let i = (this.entryVideoLo[k] ^ Math.imul(this.entryGroup[k] + 1, 0x9e3779b1)) & mask;
        while (this.entryIndex[i] !== 0) i = (i + 1) & mask;
        this.entryIndex[i] = k + 1;
      }
    }
  }
}
