/** Longest string `string` copies in a loop when it is ASCII (measured: ~40 % less time per short id; even at 36 characters). */
const ASCII_COPY_MAX = 32;

/**
 * A growable little-endian byte buffer: the one writer behind checkpoint state and ClickHouse's
 * RowBinary blocks. Reuse one across batches (`reset`) so steady state allocates nothing.
 */
export class BinaryWriter {
  private buf: Buffer;
  private dv: DataView;
  length = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Starts over, keeping the memory. */
  reset(): void {
    this.length = 0;
  }

  u8(x: number): void {
    this.room(1);
    this.buf[this.length++] = x;
  }

  u16(x: number): void {
    this.room(2);
    this.dv.setUint16(this.length, x, true);
    this.length += 2;
  }

  u32(x: number): void {
    this.room(4);
    this.dv.setUint32(this.length, x, true);
    this.length += 4;
  }


  /** Overwrites the u32 at `at` (written before as a placeholder, e.g. a length known only after what follows it). */
  u32At(at: number, x: number): void {
    this.dv.setUint32(at, x, true);
  }

  /** An unsigned integer below 2^53 as 8 bytes (UInt64). */
  u64(x: number): void {
    this.room(8);
    this.dv.setUint32(this.length, x % 0x1_0000_0000, true);
    this.dv.setUint32(this.length + 4, Math.floor(x / 0x1_0000_0000), true);
    this.length += 8;
  }

  /** A signed integer of magnitude below 2^53 as 8 bytes (Int64). */
  i64(x: number): void {
    this.room(8);
    this.dv.setBigInt64(this.length, BigInt(x), true);
    this.length += 8;
  }

  f32(x: number): void {
    this.room(4);
    this.dv.setFloat32(this.length, x, true);
    this.length += 4;
  }

  f64(x: number): void {
    this.room(8);
    this.dv.setFloat64(this.length, x, true);
    this.length += 8;
  }

  /** LEB128, as RowBinary writes lengths. */
  varUint(x: number): void {
    this.room(10);
    while (x >= 0x80) {
      this.buf[this.length++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.length++] = x;
  }

  /** UTF-8 bytes with their LEB128 length (RowBinary's String). */
  string(s: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    this.room(10 + 3 * s.length);
    const at = this.length;
    // Short ASCII (ids, codes, names) is copied here: a call into Buffer.write costs more than the loop.
    if (s.length <= ASCII_COPY_MAX) {
      const buf = this.buf;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 1 + i] = c;
      }
      if (i === s.length) {
        buf[at] = i;
        this.length = at + 1 + i;
        return;
      }
    }
    if (s.length < 0x80) {
      // Written after a one-byte length, then moved by a byte if it took 128 bytes or more (at most
      // 3 × 127: two bytes of LEB128): cheaper than measuring it first (Buffer.byteLength).
      const buf = this.buf;
      const n = buf.write(s, at + 1, 'utf8');
      if (n < 0x80) {
        buf[at] = n;
        this.length = at + 1 + n;
      } else {
        buf.copyWithin(at + 2, at + 1, at + 1 + n);
        buf[at] = (n & 0x7f) | 0x80;
        buf[at + 1] = n >>> 7;
        this.length = at + 2 + n;
      }
      return;
    }
    this.varUint(Buffer.byteLength(s));
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** `src[at[i]]` for every i, as u32s: a column of keyed state gathered from its table in one loop. */
  u32Gather(src: Uint32Array, at: Int32Array): void {
    const n = at.length;
    this.room(4 * n);
    const start = this.buf.byteOffset + this.length;
    if (start % 4 === 0) {
      const out = new Uint32Array(this.buf.buffer, start, n);
      for (let i = 0; i < n; i++) out[i] = src[at[i]];
    } else {
      const dv = this.dv;
      for (let i = 0, o = this.length; i < n; i++, o += 4) dv.setUint32(o, src[at[i]], true);
    }
    this.length += 4 * n;
  }

  /** `src[at[i]]` for every i, as f64s (see {@link u32Gather}). */
  f64Gather(src: Float64Array, at: Int32Array): void {
    const n = at.length;
    this.room(8 * n);
    const start = this.buf.byteOffset + this.length;
    if (start % 8 === 0) {
      const out = new Float64Array(this.buf.buffer, start, n);
      for (let i = 0; i < n; i++) out[i] = src[at[i]];
    } else {
      const dv = this.dv;
      for (let i = 0, o = this.length; i < n; i++, o += 8) dv.setFloat64(o, src[at[i]], true);
    }
    this.length += 8 * n;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Appends `src[start, end)`, with no view of it made (a row loop copies many small ranges). */
  range(src: Buffer, start: number, end: number): void {
    this.room(end - start);
    this.length += src.copy(this.buf, this.length, start, end);
  }

  /**
   * Reserves the next `n` bytes and returns where they start, for a record written at once through
   * `dataView` (fetched after the claim: growing replaces it) with no check per field; the caller
   * fills every byte it claimed.
   */
  claim(n: number): number {
    this.room(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  /** The buffer's view, for the bytes `claim` reserved: valid until the next write. */
  get dataView(): DataView {
    return this.dv;
  }

  /** What was written, without copying: valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of what was written (the writer may be reused at once). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
    this.dv = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }
}
