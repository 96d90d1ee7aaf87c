/**
 * Seeded 64-bit fingerprints of keys: SipHash-1-3 (a keyed pseudo-random function, the one Rust's
 * and CPython's hash tables use against crafted collisions) under a secret 128-bit seed, over the
 * UTF-16LE code units of a key string — which may be given in pieces, so that a composite key
 * (`v:` + viewer id + `|` + video id) is never built as a string — or over 32-bit words. Without
 * the seed nobody can build two keys that share a fingerprint; with 64 bits, two distinct keys among
 * n share one with probability about n² / 2^65 (2 M keys: ~1e-7 for the whole table, ~1e-13 per lookup).
 *
 * Computed in 32-bit halves with no allocation: after `string`, `words` or `end`, the result is in
 * `hi` and `lo`.
 */
export class Fingerprinter {
  // configuration: the seed as four 32-bit words, k0 = (k0hi, k0lo), k1 = (k1hi, k1lo)
  private readonly k0hi: number;
  private readonly k0lo: number;
  private readonly k1hi: number;
  private readonly k1lo: number;
  /** The last fingerprint: high and low 32 bits (unsigned). */
  hi = 0;
  lo = 0;
  // the message being built: code units, read back as little-endian 32-bit words; its length in units
  private units16 = new Uint16Array(128);
  private words32 = new Uint32Array(this.units16.buffer);
  private units = 0;

  /** A 128-bit seed as 32 hex digits. */
  constructor(seedHex: string) {
    if (!/^[0-9a-fA-F]{32}$/.test(seedHex)) throw new RangeError('the state seed (VT_STATE_SEED, stateSeed) must be 32 hex digits: a secret 128-bit seed, the same for as long as checkpoints are kept');
    // SipHash reads its key as two little-endian 64-bit words.
    const b = Buffer.from(seedHex, 'hex');
    this.k0lo = b.readUInt32LE(0);
    this.k0hi = b.readUInt32LE(4);
    this.k1lo = b.readUInt32LE(8);
    this.k1hi = b.readUInt32LE(12);
  }

  /** Fingerprint of one string. */
  string(s: string): void {
    this.units = 0;
    this.add(s);
    this.end();
  }

  /** Fingerprint of a tagged pair of 32-bit words (numeric keys such as an IPv4 address or an IPv6 /64). */
  words(tag: number, a: number, b: number): void {
    const m = this.words32;
    m[0] = tag;
    m[1] = a;
    m[2] = b;
    this.units = 6;
    this.end();
  }

  /** Starts the fingerprint of a string given in pieces: `begin`, `add` each piece, `end`. */
  begin(): void {
    this.units = 0;
  }

  /** Appends a piece of the string. */
  add(s: string): void {
    const n = s.length;
    if (this.units + n + 8 > this.units16.length) this.grow(this.units + n + 8);
    const u = this.units16;
    let at = this.units;
    for (let i = 0; i < n; i++) u[at++] = s.charCodeAt(i);
    this.units = at;
  }

  /** Finishes: the fingerprint is in `hi` and `lo`. */
  end(): void {
    // SipHash's padding: zeros to a whole 64-bit word, the length in bytes in its top byte.
    const bytes = (this.units * 2) & 0xff;
    const u = this.units16;
    let at = this.units;
    do u[at++] = 0;
    while ((at & 3) !== 0);
    const words = at >>> 1;
    this.words32[words - 1] = (this.words32[words - 1] | (bytes << 24)) >>> 0;
    this.hash(this.words32, words);
  }

  private grow(units: number): void {
    const bigger = new Uint16Array(Math.max(this.units16.length * 2, units + (4 - (units & 3))));
    bigger.set(this.units16);
    this.units16 = bigger;
    this.words32 = new Uint32Array(bigger.buffer);
  }

  /** SipHash-1-3 of `count` words (a whole number of 64-bit words, padding included). */
  private hash(m: Uint32Array, count: number): void {
    let v0h = (this.k0hi ^ 0x736f6d65) >>> 0, v0l = (this.k0lo ^ 0x70736575) >>> 0;
    let v1h = (this.k1hi ^ 0x646f7261) >>> 0, v1l = (this.k1lo ^ 0x6e646f6d) >>> 0;
    let v2h = (this.k0hi ^ 0x6c796765) >>> 0, v2l = (this.k0lo ^ 0x6e657261) >>> 0;
    let v3h = (this.k1hi ^ 0x74656462) >>> 0, v3l = (this.k1lo ^ 0x79746573) >>> 0;
    let l = 0, t = 0, ml = 0, mh = 0;
    // One compression round per message word, then three finalisation rounds (v2 ^= 0xff first).
    // The round is written once, inline, so the whole hash runs on locals.
    const rounds = count / 2 + 3;
    for (let r = 0; r < rounds; r++) {
      const w = 2 * r;
      if (w < count) {
        ml = m[w];
        mh = m[w + 1];
        v3h = (v3h ^ mh) >>> 0;
        v3l = (v3l ^ ml) >>> 0;
      } else if (w === count) {
        v2l = (v2l ^ 0xff) >>> 0;
      }
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      l = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      t = v1h;
      v1h = (((v1h << 13) | (v1l >>> 19)) ^ v0h) >>> 0;
      v1l = (((v1l << 13) | (t >>> 19)) ^ v0l) >>> 0;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      l = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      t = v3h;
      v3h = (((v3h << 16) | (v3l >>> 16)) ^ v2h) >>> 0;
      v3l = (((v3l << 16) | (t >>> 16)) ^ v2l) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      l = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      t = v3h;
      v3h = (((v3h << 21) | (v3l >>> 11)) ^ v0h) >>> 0;
      v3l = (((v3l << 21) | (t >>> 11)) ^ v0l) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      l = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      t = v1h;
      v1h = (((v1h << 17) | (v1l >>> 15)) ^ v2h) >>> 0;
      v1l = (((v1l << 17) | (t >>> 15)) ^ v2l) >>> 0;
      t = v2h;
      v2h = v2l;
      v2l = t;
      if (w < count) {
        v0h = (v0h ^ mh) >>> 0;
        v0l = (v0l ^ ml) >>> 0;
      }
    }
    this.hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
    this.lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }
}
