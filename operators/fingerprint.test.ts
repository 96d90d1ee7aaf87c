import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fingerprinter } from './fingerprint.ts';

const MASK = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & MASK;

/** SipHash-c-d straight from the paper, on BigInts: the reference the fast halves must match. */
function sipHash(c: number, d: number, key: Buffer, msg: Buffer): bigint {
  const k0 = key.readBigUInt64LE(0);
  const k1 = key.readBigUInt64LE(8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n) ^ v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n) ^ v2; v2 = rotl(v2, 32n);
  };
  const padded = Buffer.alloc(Math.floor(msg.length / 8) * 8 + 8);
  msg.copy(padded);
  padded[padded.length - 1] = msg.length & 0xff;
  for (let i = 0; i < padded.length; i += 8) {
    const m = padded.readBigUInt64LE(i);
    v3 ^= m;
    for (let r = 0; r < c; r++) round();
    v0 ^= m;
  }
  v2 ^= 0xffn;
  for (let r = 0; r < d; r++) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

const SEED = '000102030405060708090a0b0c0d0e0f';
const fingerprint = (f: Fingerprinter) => (BigInt(f.hi) << 32n) | BigInt(f.lo);
const sip13 = (msg: Buffer) => sipHash(1, 3, Buffer.from(SEED, 'hex'), msg);

describe('Fingerprinter', () => {
  it("the reference is SipHash: the paper's test vector for SipHash-2-4", () => {
    const msg = Buffer.from(Array.from({ length: 15 }, (_, i) => i));
    expect(sipHash(2, 4, Buffer.from(SEED, 'hex'), msg).toString(16)).toBe('a129ca6149be45e5');
  });

  it('is SipHash-1-3 of the UTF-16LE code units of a string', () => {
    const f = new Fingerprinter(SEED);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        f.string(s);
        expect(fingerprint(f)).toBe(sip13(Buffer.from(s, 'utf16le')));
      }),
      { numRuns: 2_000 },
    );
  });

  it('fingerprints a string given in pieces as the whole string, so composite keys need no concatenation', () => {
    const f = new Fingerprinter(SEED);
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 4 }), (parts) => {
        f.begin();
        for (const p of parts) f.add(p);
        f.end();
        const whole = fingerprint(f);
        f.string(parts.join(''));
        expect(whole).toBe(fingerprint(f));
      }),
    );
  });

  it('hashes tagged word pairs as 12 little-endian bytes', () => {
    const f = new Fingerprinter(SEED);
    fc.assert(
      fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), (tag, a, b) => {
        f.words(tag, a, b);
        const msg = Buffer.alloc(12);
        msg.writeUInt32LE(tag, 0);
        msg.writeUInt32LE(a, 4);
        msg.writeUInt32LE(b, 8);
        expect(fingerprint(f)).toBe(sip13(msg));
      }),
    );
  });

  it('depends on the seed', () => {
    const a = new Fingerprinter(SEED);
    const b = new Fingerprinter('f0e0d0c0b0a090807060504030201000');
    a.string('event-1');
    b.string('event-1');
    expect(fingerprint(a)).not.toBe(fingerprint(b));
  });

  it('refuses a seed that is not 128 bits of hex', () => {
    expect(() => new Fingerprinter('abc')).toThrow(/32 hex digits/);
  });

  it('gives 10 000 000 distinct keys 10 000 000 distinct fingerprints', async () => {
    const f = new Fingerprinter('5ec12e75eed0fa11c0ffee0123456789');
    const n = 10_000_000;
    const all = new BigUint64Array(n);
    const halves = new Uint32Array(all.buffer); // little-endian: low half first
    for (let i = 0; i < n; i++) {
      // Yield now and then: a worker blocked for a minute misses vitest's RPC deadline on a loaded machine.
      if (i % 500_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      // Keys shaped like the job's: event ids, and viewer-and-video pairs.
      if (i % 2 === 0) f.string(`e-${i.toString(36)}-${(i * 2654435761) % 1000003}`);
      else {
        f.begin();
        f.add('s:');
        f.add(String(i));
        f.add('|');
        f.add(`v${i % 977}`);
        f.end();
      }
      halves[2 * i] = f.lo;
      halves[2 * i + 1] = f.hi;
    }
    all.sort();
    let collisions = 0;
    for (let i = 1; i < n; i++) if (all[i] === all[i - 1]) collisions++;
    expect(collisions).toBe(0);
  });
});
