import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BinaryReader } from './binary-reader.ts';
import { BinaryWriter } from './binary-writer.ts';
import { WriterPool } from './writer-pool.ts';

describe('BinaryWriter gathers', () => {
  it('writes src[at[i]] in order at every alignment, aligned or not, and across growth', () => {
    fc.assert(
      fc.property(fc.nat(15), fc.array(fc.tuple(fc.nat(0xffff_ffff), fc.double({ noNaN: true })), { minLength: 1, maxLength: 3000 }), fc.nat(), (pad, entries, seed) => {
        const u32 = Uint32Array.from(entries, ([u]) => u);
        const f64 = Float64Array.from(entries, ([, f]) => f);
        // A permutation of the slots, as a table's recency order is.
        const at = Int32Array.from(entries.keys()).sort((a, b) => ((a * 2654435761 + seed) >>> 0) - ((b * 2654435761 + seed) >>> 0));
        const w = new BinaryWriter(16);
        for (let i = 0; i < pad; i++) w.u8(i);
        w.u32Gather(u32, at);
        w.f64Gather(f64, at);
        const r = new BinaryReader(w.view());
        for (let i = 0; i < pad; i++) expect(r.u8()).toBe(i);
        expect(Array.from(r.u32Array(at.length))).toEqual(Array.from(at, (s) => u32[s]));
        expect(Array.from(r.f64Array(at.length))).toEqual(Array.from(at, (s) => f64[s]));
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('BinaryWriter.u32At', () => {
  it('fills a length placeholder once what it measures is written, also after the buffer grew', () => {
    const w = new BinaryWriter(8);
    w.u8(9);
    const at = w.length;
    w.u32(0);
    for (let i = 0; i < 100; i++) w.u32(i);
    w.u32At(at, w.length - at - 4);
    const b = w.view();
    expect([b[0], b.readUInt32LE(1), b.readUInt32LE(5), b.readUInt32LE(5 + 99 * 4), b.length]).toEqual([9, 400, 0, 99, 405]);
  });
});

describe('WriterPool', () => {
  it('hands given-back writers out again, emptied, as many as were out at once, and new ones beyond them', () => {
    const pool = new WriterPool();
    const out = [pool.take(), pool.take(), pool.take()];
    out[0].u32(7);
    expect(new Set(out).size).toBe(3);
    for (const w of out) pool.give(w);
    const again = [pool.take(), pool.take(), pool.take()];
    expect(new Set(again)).toEqual(new Set(out));
    expect(again.map((w) => w.length)).toEqual([0, 0, 0]);
    expect(out).not.toContain(pool.take());
  });
});

describe('BinaryWriter.string', () => {
  /** RowBinary's String as the format defines it: the UTF-8 byte length as LEB128, then the bytes. */
  function reference(s: string): Buffer {
    const bytes = Buffer.from(s, 'utf8');
    const length: number[] = [];
    let n = bytes.length;
    while (n >= 0x80) {
      length.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    length.push(n);
    return Buffer.concat([Buffer.from(length), bytes]);
  }

  it('writes UTF-8 with its LEB128 length, on the short ASCII path and off it, and reads back the same', () => {
    const edge = ['', 'a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(33), 'é', `${'a'.repeat(31)}é`, `é${'a'.repeat(31)}`, '\u007f', '\u0080', '😀', 'a😀b', 'q'.repeat(127), 'q'.repeat(128), 'ü'.repeat(200), 'é'.repeat(63), 'é'.repeat(64), 'é'.repeat(127), '😀'.repeat(63), `${'a'.repeat(126)}é`];
    const check = (strings: string[]) => {
      const w = new BinaryWriter(8); // grows on the way
      for (const s of strings) w.string(s);
      expect(w.view()).toEqual(Buffer.concat(strings.map(reference)));
      const r = new BinaryReader(w.copy());
      expect(strings.map(() => r.string())).toEqual(strings);
      // Skipping every other string leaves the reader on the next one.
      const skipping = new BinaryReader(w.copy());
      expect(strings.map((_, i) => (i % 2 === 0 ? (skipping.skipString(), null) : skipping.string()))).toEqual(strings.map((s, i) => (i % 2 === 0 ? null : s)));
      expect(skipping.remaining).toBe(0);
    };
    check(edge);
    fc.assert(fc.property(fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 300 }))), check));
  });

  it('refuses to skip a string that runs past the end', () => {
    const w = new BinaryWriter();
    w.string('abcdef');
    expect(() => new BinaryReader(w.view().subarray(0, 5)).skipString()).toThrow('binary state: 6 bytes needed at byte 1 of 5');
  });
});

describe('BinaryWriter.claim', () => {
  it('reserves bytes where the next write would go, growing the buffer, between ordinary writes', () => {
    const w = new BinaryWriter(4);
    w.u8(0xaa);
    const at = w.claim(12);
    expect(at).toBe(1);
    w.dataView.setFloat64(at, 1.5, true);
    w.dataView.setUint32(at + 8, 0xdeadbeef, true);
    w.u8(0xbb);
    const r = new BinaryReader(w.copy());
    expect([r.u8(), r.f64(), r.u32(), r.u8(), r.remaining]).toEqual([0xaa, 1.5, 0xdeadbeef, 0xbb, 0]);
  });
});
