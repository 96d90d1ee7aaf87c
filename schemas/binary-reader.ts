import { endianness } from 'node:os';

// Arrays are stored as the machine holds them: little-endian, like every other field.
if (endianness() !== 'LE') throw new Error('viewtally stores binary state little-endian and runs on little-endian machines only');

/** Reads what a {@link BinaryWriter} wrote; every read past the end is an error naming the offset. */
export class BinaryReader {
  private readonly buf: Buffer;
  private readonly view: DataView;
  at = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++];
  }

  u16(): number {
    this.need(2);
    const x = this.view.getUint16(this.at, true);
    this.at += 2;
    return x;
  }

  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.at, true);
    this.at += 4;
    return x;
  }

  u64(): number {
    this.need(8);
    const x = this.view.getUint32(this.at, true) + this.view.getUint32(this.at + 4, true) * 0x1_0000_0000;
    this.at += 8;
    return x;
  }

  i64(): number {
    this.need(8);
    const x = Number(this.view.getBigInt64(this.at, true));
    this.at += 8;
    return x;
  }

  f32(): number {
    this.need(4);
    const x = this.view.getFloat32(this.at, true);
    this.at += 4;
    return x;
  }

  f64(): number {
    this.need(8);
    const x = this.view.getFloat64(this.at, true);
    this.at += 8;
    return x;
  }

  varUint(): number {
    let x = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      x += (b & 0x7f) * scale;
      if (b < 0x80) return x;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError(`binary state: a length at byte ${this.at} does not end`);
    }
  }

  string(): string {
    const n = this.varUint();
    this.need(n);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** Passes over a string without reading it (no view, no copy). */
  skipString(): void {
    const n = this.varUint();
    this.need(n);
    this.at += n;
  }

  /** `n` unsigned 32-bit values written by BinaryWriter.u32Gather, copied into an aligned array. */
  u32Array(n: number): Uint32Array {
    const out = new Uint32Array(n);
    new Uint8Array(out.buffer).set(this.bytes(4 * n));
    return out;
  }

  /** `n` doubles written by BinaryWriter.f64Gather, copied into an aligned array. */
  f64Array(n: number): Float64Array {
    const out = new Float64Array(n);
    new Uint8Array(out.buffer).set(this.bytes(8 * n));
    return out;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new RangeError(`binary state: ${n} bytes needed at byte ${this.at} of ${this.buf.length}`);
  }
}
