import { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { DEVICES, OUTCOMES, TRAFFIC_SOURCES, type Outcome, type ViewEvent } from '../schemas/view-event.ts';
import type { Fingerprinter } from './fingerprint.ts';
import type { ViewRecord } from './view-record.ts';
import { fit } from './typed-arrays.ts';
import { CellIndex, groupByCell, writeColumn } from './cell-index.ts';

const code = (list: readonly string[]) => new Map(list.map((s, i) => [s, i]));
const DEVICE_CODE = code(DEVICES);
const SOURCE_CODE = code(TRAFFIC_SOURCES);
const OUTCOME_CODE = code(OUTCOMES);
/** Each enum value as RowBinary String bytes, written by copy. */
const encoded = (list: readonly string[]) => list.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]));
const DEVICE_BYTES = encoded(DEVICES);
const SOURCE_BYTES = encoded(TRAFFIC_SOURCES);
const OUTCOME_BYTES = encoded(OUTCOMES);
/** How much of a pane's arena and lists stored links hold. */
interface Linked {
  arena: number;
  viewCells: number;
  viewers: number;
  outcomeCells: number;
}
/** A pane no stored link holds any of yet. */
const NOTHING_LINKED: Readonly<Linked> = { arena: 0, viewCells: 0, viewers: 0, outcomeCells: 0 };

/** `count` columns of as many u32 as the link says (a count, then each column). */
function columns(r: BinaryReader, count: number): Uint32Array[] {
  const n = r.u32();
  return Array.from({ length: count }, () => r.u32Array(n));
}

/**
 * The aggregate of one minute window of one partition: counted views by dimensions (with the
 * viewers' fingerprints, for unique viewers) and events by outcome. Cells live in typed arrays,
 * found by the video's fingerprint and the dimension codes (cell-index.ts); the strings of a cell
 * are copied once, already in RowBinary form, into a byte arena — so a pane holds
 * no JS object per cell or event, and its rows are written to ClickHouse by copying bytes.
 */
export class MinutePane {
  readonly minute: number;
  // view cells, by video fingerprint and device and source codes: where their strings are, views
  private readonly views = new CellIndex();
  private vCodes = new Uint32Array(64);
  private vStrings = new Int32Array(64);
  private vCount = new Uint32Array(64);
  // viewers of counted views, in arrival order: the cell and the viewer-key fingerprint
  private viewerCount = 0;
  private viewerCell = new Int32Array(64);
  private viewerHi = new Uint32Array(64);
  private viewerLo = new Uint32Array(64);
  // outcome cells, by video fingerprint and outcome: where their video id is, events
  private readonly outcomes = new CellIndex();
  private oOutcome = new Uint8Array(64);
  private oStrings = new Int32Array(64);
  private oCount = new Uint32Array(64);
  /** The event `addView` is adding, for `sameStrings`. */
  private matching: ViewEvent | null = null;
  // RowBinary strings of the cells
  private arena = Buffer.allocUnsafe(4096);
  private arenaLength = 0;
  /** The length `stringAt` read last. */
  private lengthRead = 0;
  // what stored links hold (see writeLink), and the outcome cells they hold whose count moved since
  private linked: Readonly<Linked> = NOTHING_LINKED;
  private oMoved = new Uint8Array(64);
  private movedCells = new Int32Array(64);
  private moved = 0;

  constructor(minute: number) {
    this.minute = minute;
  }

  /** Cells of counted views (rows of `views_minute_rows`). */
  get viewCells(): number {
    return this.views.size;
  }

  /** Adds a classified record: every record to its outcome, counted ones to the views. */
  add(r: ViewRecord): void {
    this.addOutcome(r.videoHi, r.videoLo, r.event?.video_id ?? '', OUTCOME_CODE.get(r.outcome!)!, 1);
    if (r.outcome === 'counted') this.addView(r.videoHi, r.videoLo, r.event!, r.viewerHi, r.viewerLo);
  }

  /** Appends the rows to a fired block's writers, straight from the cells. */
  writeRows(views: BinaryWriter, outcomes: BinaryWriter): void {
    this.writeViews(views);
    this.writeOutcomes(outcomes);
  }

  /**
   * Writes the pane into a checkpoint link: whole, or (`changedOnly`) what it gained since the last
   * link. Its string bytes, cells and viewers are only ever appended, so a change is their tails
   * (each list after where the last link ended it), and the outcome counts that moved; a view
   * count is not written, a cell has as many views as viewers. Every list in columns of u32.
   */
  writeLink(w: BinaryWriter, changedOnly: boolean): void {
    const from = changedOnly ? this.linked : NOTHING_LINKED;
    w.u32(from.arena);
    w.u32(this.arenaLength - from.arena);
    w.range(this.arena, from.arena, this.arenaLength);
    const views = this.views.size;
    w.u32(from.viewCells);
    w.u32(views - from.viewCells);
    this.views.writeKeys(w, from.viewCells);
    writeColumn(w, this.vStrings, from.viewCells, views);
    w.u32(from.viewers);
    w.u32(this.viewerCount - from.viewers);
    for (const column of [this.viewerCell, this.viewerHi, this.viewerLo]) writeColumn(w, column, from.viewers, this.viewerCount);
    const outcomes = this.outcomes.size;
    w.u32(from.outcomeCells);
    w.u32(outcomes - from.outcomeCells);
    this.outcomes.writeKeys(w, from.outcomeCells);
    writeColumn(w, this.oStrings, from.outcomeCells, outcomes);
    writeColumn(w, this.oCount, from.outcomeCells, outcomes);
    const moved = changedOnly ? this.moved : 0;
    w.u32(moved);
    writeColumn(w, this.movedCells, 0, moved);
    w.u32Gather(this.oCount, this.movedCells.subarray(0, moved));
    for (let i = 0; i < this.moved; i++) this.oMoved[this.movedCells[i]] = 0;
    this.moved = 0;
    this.linked = { arena: this.arenaLength, viewCells: views, viewers: this.viewerCount, outcomeCells: outcomes };
  }

  /**
   * Reads a pane written by `writeLink`: a pane of its own when the link holds it whole (its lists
   * start at 0), else the continuation of `before`, which must hold exactly what the link continues.
   */
  static readLink(r: BinaryReader, minute: number, before: MinutePane | undefined): MinutePane {
    const fault = (problem: string) => new RangeError(`binary state: the open window of ${new Date(minute).toISOString()} ${problem}`);
    const arenaFrom = r.u32();
    const pane = arenaFrom === 0 ? new MinutePane(minute) : before;
    if (pane === undefined) throw fault('continues one the state before does not hold');
    const expect = (what: string, from: number, held: number) => {
      if (from !== held) throw fault(`continues its ${what} from ${from}, the state before holds ${held}`);
    };
    const inArena = (at: number) => {
      if (at >= pane.arenaLength) throw fault(`has a cell whose strings start at byte ${at}, past its ${pane.arenaLength}`);
      return at;
    };
    expect('string bytes', arenaFrom, pane.arenaLength);
    const bytes = r.bytes(r.u32());
    pane.reserveArena(bytes.length);
    pane.arenaLength += bytes.copy(pane.arena, pane.arenaLength);
    expect('view cells', r.u32(), pane.views.size);
    const [vHi, vLo, vCode, vStrings] = columns(r, 4);
    for (let i = 0; i < vHi.length; i++) {
      const c = pane.views.restore(vHi[i], vLo[i], vCode[i]);
      pane.fitViewCells(c + 1);
      pane.vCodes[c] = vCode[i];
      pane.vStrings[c] = inArena(vStrings[i]);
      pane.vCount[c] = 0;
    }
    expect('viewers', r.u32(), pane.viewerCount);
    const [cells, hi, lo] = columns(r, 3);
    for (let i = 0; i < cells.length; i++) {
      if (cells[i] >= pane.views.size) throw fault(`has a viewer of view cell ${cells[i]}, of ${pane.views.size}`);
      pane.vCount[cells[i]]++;
      pane.appendViewer(cells[i], hi[i], lo[i]);
    }
    expect('outcome cells', r.u32(), pane.outcomes.size);
    const [oHi, oLo, oCode, oStrings, oCount] = columns(r, 5);
    for (let i = 0; i < oHi.length; i++) {
      const c = pane.outcomes.restore(oHi[i], oLo[i], oCode[i]);
      pane.fitOutcomeCells(c + 1);
      if (oCode[i] >= OUTCOMES.length) throw fault(`has an outcome cell of outcome ${oCode[i]}`);
      pane.oOutcome[c] = oCode[i];
      pane.oStrings[c] = inArena(oStrings[i]);
      pane.oCount[c] = oCount[i];
    }
    const [movedCells, counts] = columns(r, 2);
    for (let i = 0; i < movedCells.length; i++) {
      if (movedCells[i] >= pane.outcomes.size) throw fault(`has a count of outcome cell ${movedCells[i]}, of ${pane.outcomes.size}`);
      pane.oCount[movedCells[i]] = counts[i];
    }
    pane.linked = { arena: pane.arenaLength, viewCells: pane.views.size, viewers: pane.viewerCount, outcomeCells: pane.outcomes.size };
    return pane;
  }

  /** Adds the pane's counted views to `into`, by video id. */
  countViews(into: Map<string, number>): void {
    for (let c = 0; c < this.views.size; c++) {
      const at = this.stringAt(this.vStrings[c]);
      const video = this.arena.toString('utf8', at, at + this.lengthRead);
      into.set(video, (into.get(video) ?? 0) + this.vCount[c]);
    }
  }

  /** Writes the view rows (RowBinary of `views_minute_rows`). */
  private writeViews(w: BinaryWriter): void {
    // Each cell has exactly as many viewers as views.
    const cells = this.views.size;
    const { start, order } = groupByCell(this.viewerCell, this.viewerCount, this.vCount, cells);
    const minuteSeconds = Math.floor(this.minute / 1000);
    for (let c = 0; c < cells; c++) {
      w.u32(minuteSeconds);
      const strings = this.vStrings[c];
      w.range(this.arena, strings, this.skipStrings(strings, 4));
      const codes = this.vCodes[c];
      w.bytes(DEVICE_BYTES[codes & 0xff]);
      w.bytes(SOURCE_BYTES[codes >>> 8]);
      w.u64(this.vCount[c]);
      w.varUint(this.vCount[c]);
      for (let k = start[c]; k < start[c + 1]; k++) {
        w.u32(this.viewerLo[order[k]]);
        w.u32(this.viewerHi[order[k]]);
      }
    }
  }

  /** Writes the outcome rows (RowBinary of `view_outcomes_minute`). */
  private writeOutcomes(w: BinaryWriter): void {
    const minuteSeconds = Math.floor(this.minute / 1000);
    for (let c = 0; c < this.outcomes.size; c++) {
      w.u32(minuteSeconds);
      const strings = this.oStrings[c];
      w.range(this.arena, strings, this.skipStrings(strings, 1));
      w.bytes(OUTCOME_BYTES[this.oOutcome[c]]);
      w.u64(this.oCount[c]);
    }
  }

  /** Adds rows written by `writeViews` and `writeOutcomes` (a checkpoint's open window), fingerprinting video ids again. */
  readRows(views: Buffer, outcomes: Buffer, fp: Fingerprinter): void {
    const r = new BinaryReader(views);
    const e = { video_id: '', channel_id: '', category: '', country: '', device: 'other', traffic_source: 'other' } as ViewEvent;
    while (r.remaining > 0) {
      r.u32();
      e.video_id = r.string();
      e.channel_id = r.string();
      e.category = r.string();
      e.country = r.string();
      e.device = r.string() as ViewEvent['device'];
      e.traffic_source = r.string() as ViewEvent['traffic_source'];
      r.u64();
      fp.string(e.video_id);
      for (let n = r.varUint(); n > 0; n--) {
        const lo = r.u32();
        this.addView(fp.hi, fp.lo, e, r.u32(), lo);
      }
    }
    const o = new BinaryReader(outcomes);
    while (o.remaining > 0) {
      o.u32();
      const video = o.string();
      const outcome = OUTCOME_CODE.get(o.string() as Outcome);
      if (outcome === undefined) throw new RangeError('binary state: unknown outcome in an open window');
      fp.string(video);
      this.addOutcome(fp.hi, fp.lo, video, outcome, o.u64());
    }
  }

  private addOutcome(videoHi: number, videoLo: number, videoId: string, outcome: number, n: number): void {
    let c = this.outcomes.find(videoHi, videoLo, outcome);
    if (c < 0) {
      c = this.outcomes.add(videoHi, videoLo, outcome);
      this.fitOutcomeCells(c + 1);
      this.oOutcome[c] = outcome;
      this.oStrings[c] = this.putString(videoId);
      this.oCount[c] = 0;
    } else if (c < this.linked.outcomeCells && this.oMoved[c] === 0) {
      this.oMoved[c] = 1;
      this.movedCells = fit(this.movedCells, this.moved + 1);
      this.movedCells[this.moved++] = c;
    }
    this.oCount[c] += n;
  }

  private fitOutcomeCells(n: number): void {
    this.oOutcome = fit(this.oOutcome, n);
    this.oStrings = fit(this.oStrings, n);
    this.oCount = fit(this.oCount, n);
    this.oMoved = fit(this.oMoved, n);
  }

  private fitViewCells(n: number): void {
    this.vCodes = fit(this.vCodes, n);
    this.vStrings = fit(this.vStrings, n);
    this.vCount = fit(this.vCount, n);
  }

  private appendViewer(cell: number, viewerHi: number, viewerLo: number): void {
    const v = this.viewerCount++;
    this.viewerCell = fit(this.viewerCell, v + 1);
    this.viewerHi = fit(this.viewerHi, v + 1);
    this.viewerLo = fit(this.viewerLo, v + 1);
    this.viewerCell[v] = cell;
    this.viewerHi[v] = viewerHi;
    this.viewerLo[v] = viewerLo;
  }

  private addView(videoHi: number, videoLo: number, e: ViewEvent, viewerHi: number, viewerLo: number): void {
    const codes = DEVICE_CODE.get(e.device)! | (SOURCE_CODE.get(e.traffic_source)! << 8);
    this.matching = e;
    let c = this.views.find(videoHi, videoLo, codes, this.sameStrings);
    if (c < 0) {
      c = this.views.add(videoHi, videoLo, codes);
      this.fitViewCells(c + 1);
      this.vCodes[c] = codes;
      this.vStrings[c] = this.putString(e.video_id);
      this.putString(e.channel_id);
      this.putString(e.category);
      this.putString(e.country);
      this.vCount[c] = 0;
    }
    this.vCount[c]++;
    this.appendViewer(c, viewerHi, viewerLo);
  }

  /** Whether a view cell's channel, category and country (after its video id, in the arena) are those of the event being added. */
  private readonly sameStrings = (c: number): boolean => {
    const e = this.matching!;
    let at = this.matchString(this.skipStrings(this.vStrings[c], 1), e.channel_id);
    if (at >= 0) at = this.matchString(at, e.category);
    return at >= 0 && this.matchString(at, e.country) >= 0;
  };

  /** The arena position after the RowBinary string at `at` if it equals `s`, else -1. */
  private matchString(at: number, s: string): number {
    const a = this.arena;
    at = this.stringAt(at);
    const n = this.lengthRead;
    if (n === s.length) {
      // ASCII: one byte per code unit.
      let i = 0;
      while (i < n && a[at + i] === s.charCodeAt(i)) i++;
      if (i === n) return at + n;
    }
    if (n < s.length || n > 3 * s.length) return -1;
    return a.toString('utf8', at, at + n) === s ? at + n : -1;
  }

  /** The arena position after `count` RowBinary strings starting at `at`. */
  private skipStrings(at: number, count: number): number {
    for (let k = 0; k < count; k++) at = this.stringAt(at) + this.lengthRead;
    return at;
  }

  /** Where the bytes of the RowBinary string at `at` start, after its length, which is left in `lengthRead`. */
  private stringAt(at: number): number {
    const a = this.arena;
    let n = 0;
    let shift = 0;
    let b: number;
    do {
      b = a[at++];
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
    this.lengthRead = n;
    return at;
  }

  /** Makes room for `need` more arena bytes. */
  private reserveArena(need: number): void {
    if (this.arenaLength + need <= this.arena.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.arena.length, this.arenaLength + need));
    this.arena.copy(bigger, 0, 0, this.arenaLength);
    this.arena = bigger;
  }

  /** Appends a RowBinary string to the arena; returns where it starts. */
  private putString(s: string): number {
    this.reserveArena(10 + 3 * s.length);
    const at = this.arenaLength;
    const bytes = Buffer.byteLength(s);
    let n = bytes;
    let p = at;
    while (n >= 0x80) {
      this.arena[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.arena[p++] = n;
    this.arenaLength = p + this.arena.write(s, p, 'utf8');
    return at;
  }
}
