/**
 * CIDR matching for the bot rules, allocation-free on the hot path: IPv4 addresses are uint32
 * numbers matched by binary search over merged ranges; IPv6 addresses are four uint32 words matched
 * against prefixes (lists are short, and most beacons are IPv4).
 */
import { mappedIPv4, parseIPv4, parseIPv6 } from '../schemas/ip-address.ts';

/** Thrown by {@link CidrSet.parse}; `index` is the entry at fault. */
export class CidrError extends Error {
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.index = index;
  }
}

/** A compiled list of CIDR blocks (IPv4 and IPv6). */
export class CidrSet {
  private readonly v4Start: Float64Array;
  private readonly v4End: Float64Array;
  private readonly v6Net: Uint32Array;
  private readonly v6Prefix: Uint8Array;
  /** Number of blocks as configured (before merging). */
  readonly size: number;

  private constructor(v4: Array<[number, number]>, v6: Array<{ net: Uint32Array; prefix: number }>, size: number) {
    v4.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const merged: Array<[number, number]> = [];
    for (const r of v4) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.v4Start = Float64Array.from(merged, (r) => r[0]);
    this.v4End = Float64Array.from(merged, (r) => r[1]);
    this.v6Net = new Uint32Array(v6.length * 4);
    this.v6Prefix = Uint8Array.from(v6, (b) => b.prefix);
    v6.forEach((b, i) => this.v6Net.set(b.net, i * 4));
    this.size = size;
  }

  /** Compiles `a.b.c.d/n` and `x::y/n` blocks (a bare address is a /32 or /128); host bits must be zero. */
  static parse(blocks: readonly string[]): CidrSet {
    const v4: Array<[number, number]> = [];
    const v6: Array<{ net: Uint32Array; prefix: number }> = [];
    const words = new Uint32Array(4);
    blocks.forEach((block, index) => {
      const slash = block.indexOf('/');
      const addr = slash < 0 ? block : block.slice(0, slash);
      const bitsText = slash < 0 ? null : block.slice(slash + 1);
      if (bitsText !== null && !/^\d{1,3}$/.test(bitsText)) throw new CidrError(`"${block}": prefix length must be a number`, index);
      const a4 = parseIPv4(addr);
      if (a4 >= 0) {
        const bits = bitsText === null ? 32 : Number(bitsText);
        if (bits > 32) throw new CidrError(`"${block}": an IPv4 prefix is at most /32`, index);
        const size = 2 ** (32 - bits);
        if (a4 % size !== 0) throw new CidrError(`"${block}": host bits are set (did you mean ${fmt4(a4 - (a4 % size))}/${bits}?)`, index);
        v4.push([a4, a4 + size - 1]);
        return;
      }
      if (!parseIPv6(addr, words)) throw new CidrError(`"${block}": not an IPv4 or IPv6 address`, index);
      const bits = bitsText === null ? 128 : Number(bitsText);
      if (bits > 128) throw new CidrError(`"${block}": an IPv6 prefix is at most /128`, index);
      const m = mappedIPv4(words);
      if (m >= 0 && bits >= 96) {
        const size = 2 ** (128 - bits);
        if (m % size !== 0) throw new CidrError(`"${block}": host bits are set`, index);
        v4.push([m, m + size - 1]);
        return;
      }
      const net = Uint32Array.from(words);
      for (let i = 0; i < 4; i++) {
        const keep = Math.max(0, Math.min(32, bits - 32 * i));
        const mask = keep === 0 ? 0 : keep === 32 ? 0xffffffff : (0xffffffff << (32 - keep)) >>> 0;
        if ((net[i] & ~mask) !== 0) throw new CidrError(`"${block}": host bits are set`, index);
      }
      v6.push({ net, prefix: bits });
    });
    return new CidrSet(v4, v6, blocks.length);
  }

  /** Whether the IPv4 address `a` (uint32) lies in a block. */
  hasV4(a: number): boolean {
    const starts = this.v4Start;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= a) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && a <= this.v4End[hi];
  }

  /** Whether the IPv6 address `w` (four words) lies in a block. */
  hasV6(w: Uint32Array): boolean {
    const m = mappedIPv4(w);
    if (m >= 0 && this.hasV4(m)) return true;
    const nets = this.v6Net;
    outer: for (let b = 0; b < this.v6Prefix.length; b++) {
      let bits = this.v6Prefix[b];
      for (let i = 0; i < 4 && bits > 0; i++, bits -= 32) {
        const x = (w[i] ^ nets[b * 4 + i]) >>> 0;
        if (bits >= 32 ? x !== 0 : x >>> (32 - bits) !== 0) continue outer;
      }
      return true;
    }
    return false;
  }

  /** Whether the textual address `ip` lies in a block (convenience; the scorer parses once and uses hasV4/hasV6). */
  has(ip: string): boolean {
    const a4 = parseIPv4(ip);
    if (a4 >= 0) return this.hasV4(a4);
    const w = new Uint32Array(4);
    return parseIPv6(ip, w) && this.hasV6(w);
  }
}

function fmt4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
