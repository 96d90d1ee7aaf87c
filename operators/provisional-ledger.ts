import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { CellIndex, groupByCell } from './cell-index.ts';
import { fit } from './typed-arrays.ts';
import type { ViewRecord } from './view-record.ts';
import { stepOf } from '../schemas/verdict-step.ts';

/**
 * The provisionally counted views of one live flush, per (step, address) and video: what the live
 * counters' script writes into the partition's provisional ledger beside the increments, so that a
 * flag for that address and step can take exactly those views back (see sinks/commit.lua).
 * Cells in typed arrays, as LiveCounts: nothing per view is a JS object.
 */
export class ProvisionalLedger {
  // groups: (address key, step index)
  private readonly groups = new CellIndex();
  private groupStep = new Int32Array(64);
  private groupHi = new Uint32Array(64);
  private groupLo = new Uint32Array(64);
  private groupEntries = new Uint32Array(64);
  // entries: (video fingerprint, group), its views and video id
  private readonly entries = new CellIndex();
  private entryGroup = new Int32Array(64);
  private entryViews = new Uint32Array(64);
  private entryVideo: string[] = [];
  /** Views gathered. */
  views = 0;

  /** Adds a provisionally counted view (its address key and video fingerprint set). */
  add(r: ViewRecord): void {
    const step = stepOf(r.event!.ts);
    let g = this.groups.find(r.addressHi, r.addressLo, step);
    if (g < 0) {
      g = this.groups.add(r.addressHi, r.addressLo, step);
      this.groupStep = fit(this.groupStep, g + 1);
      this.groupHi = fit(this.groupHi, g + 1);
      this.groupLo = fit(this.groupLo, g + 1);
      this.groupEntries = fit(this.groupEntries, g + 1);
      this.groupStep[g] = step;
      this.groupHi[g] = r.addressHi;
      this.groupLo[g] = r.addressLo;
      this.groupEntries[g] = 0;
    }
    let e = this.entries.find(r.videoHi, r.videoLo, g);
    if (e < 0) {
      e = this.entries.add(r.videoHi, r.videoLo, g);
      this.entryGroup = fit(this.entryGroup, e + 1);
      this.entryViews = fit(this.entryViews, e + 1);
      this.entryGroup[e] = g;
      this.entryViews[e] = 0;
      this.entryVideo[e] = r.event!.video_id;
      this.groupEntries[g]++;
    }
    this.entryViews[e]++;
    this.views++;
  }

  /**
   * The ledger payload: per (step, address) u32 step index, u32 ×2 address key, u32 entries,
   * then each entry's video id (u16 length, UTF-8) and u32 views.
   */
  write(w: BinaryWriter): void {
    const { start, order } = groupByCell(this.entryGroup, this.entries.size, this.groupEntries, this.groups.size);
    for (let g = 0; g < this.groups.size; g++) {
      w.u32(this.groupStep[g]);
      w.u32(this.groupHi[g]);
      w.u32(this.groupLo[g]);
      w.u32(this.groupEntries[g]);
      for (let k = start[g]; k < start[g + 1]; k++) {
        const id = Buffer.from(this.entryVideo[order[k]]);
        w.u16(id.length);
        w.bytes(id);
        w.u32(this.entryViews[order[k]]);
      }
    }
  }

  /** Forgets everything gathered, keeping the memory. */
  clear(): void {
    this.groups.clear();
    this.entries.clear();
    this.entryVideo.length = 0;
    this.views = 0;
  }
}

/**
 * Calls `each` for every (step, address) group of a ledger payload (see ProvisionalLedger.write)
 * with the group's 8 bytes of address key and its entries' bytes, as the live counters' script
 * stores them (the hash `<progress key>:ledger:<step>`, field = address key, value = entries).
 */
export function forEachLedgerGroup(payload: Buffer, each: (step: number, address: Buffer, entries: Buffer) => void): void {
  let at = 0;
  while (at < payload.length) {
    const step = payload.readUInt32LE(at);
    const address = payload.subarray(at + 4, at + 12);
    const count = payload.readUInt32LE(at + 12);
    const from = at + 16;
    at = from;
    for (let i = 0; i < count; i++) at += 6 + payload.readUInt16LE(at);
    each(step, address, payload.subarray(from, at));
  }
}
