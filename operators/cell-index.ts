import type { BinaryWriter } from '../schemas/binary-writer.ts';

const NEVER_SAME = () => false;

/** Writes `column[from, to)` as its bytes (read back with BinaryReader.u32Array). */
export function writeColumn(w: BinaryWriter, column: Uint32Array | Int32Array, from: number, to: number): void {
  w.bytes(new Uint8Array(column.buffer, column.byteOffset + 4 * from, 4 * (to - from)));
}

/**
 * Short-lived aggregate cells (a minute window's rows, a flush's videos) found by a 64-bit
 * fingerprint and a small code, in typed arrays with an open-addressing index: no JS object per
 * cell. The owner keeps each cell's values in its own arrays, indexed by the cell number.
 */
export class CellIndex {
  /** Cells so far; numbered 0, 1, … in the order they were added. */
  size = 0;
  private hi = new Uint32Array(64);
  private lo = new Uint32Array(64);
  private code = new Uint32Array(64);
  private index = new Int32Array(128);
  /** Where the last unsuccessful `find` stopped: the slot `add` fills. */
  private vacant = -1;

  /**
   * The cell of (hi, lo, code) for which `same(cell)` holds (asked only on a fingerprint and code
   * match, for keys with more to them), or -1.
   */
  find(hi: number, lo: number, code: number, same?: (cell: number) => boolean): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = (lo ^ Math.imul(code + 1, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const c = index[i] - 1;
      if (c < 0) {
        this.vacant = i;
        return -1;
      }
      if (this.lo[c] === lo && this.hi[c] === hi && this.code[c] === code && (same === undefined || same(c))) return c;
    }
  }

  /** Adds the cell the last `find` did not find; returns its number. */
  add(hi: number, lo: number, code: number): number {
    const c = this.size++;
    if (c === this.hi.length) {
      for (const k of ['hi', 'lo', 'code'] as const) {
        const bigger = new Uint32Array(2 * c);
        bigger.set(this[k]);
        this[k] = bigger;
      }
    }
    this.hi[c] = hi;
    this.lo[c] = lo;
    this.code[c] = code;
    this.index[this.vacant] = c + 1;
    if (2 * this.size > this.index.length) this.rehash();
    return c;
  }

  /** Adds a cell known to be new, as a restore does with cells written in their order; returns its number. */
  restore(hi: number, lo: number, code: number): number {
    this.find(hi, lo, code, NEVER_SAME);
    return this.add(hi, lo, code);
  }

  /** Writes the keys of cells `from` onwards: their fingerprints' high and low halves and their codes, as three columns. */
  writeKeys(w: BinaryWriter, from: number): void {
    for (const column of [this.hi, this.lo, this.code]) writeColumn(w, column, from, this.size);
  }

  /** Forgets every cell, keeping the memory. */
  clear(): void {
    this.index.fill(0);
    this.size = 0;
  }

  private rehash(): void {
    this.index = new Int32Array(2 * this.index.length);
    const mask = this.index.length - 1;
    for (let c = 0; c < this.size; c++) {
      let i = (this.lo[c] ^ Math.imul(this.code[c] + 1, 0x9e3779b1)) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = c + 1;
    }
  }
}

/**
 * Items (e.g. viewers) grouped by their cell, in arrival order within a cell, by counting sort:
 * cell c's items are `order[start[c]] … order[start[c + 1] - 1]`. `perCell` holds each cell's item count.
 */
export function groupByCell(cellOf: Int32Array, items: number, perCell: Uint32Array, cells: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(cells + 1);
  for (let c = 0; c < cells; c++) start[c + 1] = start[c] + perCell[c];
  const next = start.slice(0, cells);
  const order = new Int32Array(items);
  for (let i = 0; i < items; i++) order[next[cellOf[i]]++] = i;
  return { start, order };
}
