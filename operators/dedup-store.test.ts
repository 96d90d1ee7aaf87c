import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { DedupStore, dedupBytes, entriesForBudget } from './dedup-store.ts';
import { Fingerprinter } from './fingerprint.ts';

const fp = new Fingerprinter('00112233445566778899aabbccddeeff');
const key = (k: string): [number, number] => {
  fp.string(k);
  return [fp.hi, fp.lo];
};
const get = (s: DedupStore, k: string, now: number) => s.get(...key(k), now);
const set = (s: DedupStore, k: string, t: number) => s.set(...key(k), t);

/** The semantics the store must keep, on a Map in insertion order: set moves a key to the newest end. */
class Reference {
  readonly entries = new Map<string, number>();
  evictions = 0;
  constructor(readonly ttlMs: number, readonly max: number) {}
  get(k: string, now: number): number {
    const t = this.entries.get(k);
    return t === undefined || now - t >= this.ttlMs ? NaN : t;
  }
  set(k: string, t: number): void {
    this.entries.delete(k);
    this.entries.set(k, t);
    if (this.entries.size > this.max) {
      this.entries.delete(this.entries.keys().next().value!);
      this.evictions++;
    }
  }
  expire(now: number): void {
    for (const [k, t] of this.entries) {
      if (now - t < this.ttlMs) break;
      this.entries.delete(k);
    }
  }
}

/** Everything a store holds, oldest first, as its full write. */
function bytesOf(s: DedupStore): Buffer {
  const w = new BinaryWriter(64);
  s.write(w, false);
  return w.copy();
}

describe('DedupStore', () => {
  it('forgets entries once they are older than the TTL in event time', () => {
    const s = new DedupStore({ ttlMs: 1000, maxEntries: 10 });
    set(s, 'a', 0);
    expect(get(s, 'a', 999)).toBe(0);
    expect(get(s, 'a', 1000)).toBeNaN();
  });

  it('expires from the oldest end and stops at the first live entry', () => {
    const s = new DedupStore({ ttlMs: 1000, maxEntries: 10 });
    set(s, 'a', 0);
    set(s, 'b', 500);
    set(s, 'c', 1200);
    s.expire(1400);
    expect(s.size).toBe(2);
    expect(get(s, 'b', 1400)).toBe(500);
  });

  it('evicts the oldest entry at the cap and counts the eviction', () => {
    const s = new DedupStore({ ttlMs: 1e9, maxEntries: 2 });
    set(s, 'a', 1);
    set(s, 'b', 2);
    set(s, 'a', 3); // setting again moves a to the newest end
    set(s, 'c', 4);
    expect(s.size).toBe(2);
    expect(s.evictions).toBe(1);
    expect(get(s, 'b', 4)).toBeNaN();
    expect(get(s, 'a', 4)).toBe(3);
  });

  it('behaves like the insertion-ordered map it replaces, through growth, compaction and reuse of slots (60 random histories of 1 000–4 000 operations)', () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ set: fc.integer({ min: 0, max: 3000 }), t: fc.integer({ min: 0, max: 50_000 }) }) },
      { weight: 3, arbitrary: fc.record({ get: fc.integer({ min: 0, max: 3000 }), now: fc.integer({ min: 0, max: 50_000 }) }) },
      { weight: 1, arbitrary: fc.record({ expire: fc.integer({ min: 0, max: 60_000 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1000, maxLength: 4000 }), fc.integer({ min: 1, max: 2500 }), (ops, cap) => {
        const s = new DedupStore({ ttlMs: 10_000, maxEntries: cap });
        const ref = new Reference(10_000, cap);
        for (const o of ops) {
          if ('set' in o) {
            set(s, `k${o.set}`, o.t);
            ref.set(`k${o.set}`, o.t);
          } else if ('get' in o) {
            expect(get(s, `k${o.get}`, o.now)).toEqual(ref.get(`k${o.get}`, o.now));
          } else {
            s.expire(o.expire);
            ref.expire(o.expire);
          }
          expect(s.size).toBe(ref.entries.size);
        }
        expect(s.evictions).toBe(ref.evictions);
        // The whole store, oldest first, by column: fingerprint high halves, low halves, times.
        const keys = [...ref.entries.keys()].map(key);
        const expected = new BinaryWriter(64);
        expected.u32(ref.entries.size);
        expected.u32(ref.entries.size);
        for (const [hi] of keys) expected.u32(hi);
        for (const [, lo] of keys) expected.u32(lo);
        for (const t of ref.entries.values()) expected.f64(t);
        expect(bytesOf(s).equals(expected.copy())).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('a snapshot and the changes written after it restore the exact store: order, times, expiry and the cap (500 random histories)', () => {
    const op = fc.oneof(
      fc.record({ set: fc.integer({ min: 0, max: 30 }), t: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({ expire: fc.integer({ min: 0, max: 6_000 }) }),
      fc.constant({ checkpoint: true as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120, size: "max" }), fc.integer({ min: 1, max: 12 }), (ops, cap) => {
        const s = new DedupStore({ ttlMs: 1_000, maxEntries: cap });
        const snapshot = bytesOf(s);
        const changes: Buffer[] = [];
        const w = new BinaryWriter(64);
        for (const o of ops) {
          if ('set' in o) set(s, `k${o.set}`, o.t);
          else if ('expire' in o) s.expire(o.expire);
          else {
            w.reset();
            s.write(w, true);
            changes.push(w.copy());
          }
        }
        w.reset();
        s.write(w, true);
        changes.push(w.copy());
        const copy = new DedupStore({ ttlMs: 1_000, maxEntries: cap });
        copy.read(new BinaryReader(snapshot), true);
        for (const c of changes) copy.read(new BinaryReader(c), false);
        expect(bytesOf(copy).equals(bytesOf(s))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  /** Writes a snapshot of `s`, runs `between` on it, writes the change, and restores both links into a fresh store. */
  const chainedRestore = (s: DedupStore, between: () => void): DedupStore => {
    const snapshot = bytesOf(s);
    between();
    const change = new BinaryWriter(64);
    s.write(change, true);
    const chained = new DedupStore({ ttlMs: s.ttlMs, maxEntries: s.maxEntries });
    chained.read(new BinaryReader(snapshot), true);
    chained.read(new BinaryReader(change.copy()), false);
    expect(bytesOf(chained).equals(bytesOf(s))).toBe(true);
    return chained;
  };

  it('a restored store takes as much memory as one restored from a single snapshot of the same entries, however many keys a change moved', () => {
    const s = new DedupStore({ ttlMs: 1e9, maxEntries: 100_000 });
    for (let i = 0; i < 3_000; i++) set(s, `k${i}`, i);
    // 1 000 keys set again (a change repeats them) and 1 000 new ones.
    const chained = chainedRestore(s, () => {
      for (let i = 2_000; i < 4_000; i++) set(s, `k${i}`, 10_000 + i);
    });
    const whole = new DedupStore({ ttlMs: 1e9, maxEntries: 100_000 });
    whole.read(new BinaryReader(bytesOf(s)), true);
    expect(chained.memoryBytes()).toBe(whole.memoryBytes());
  });

  it('a restored store is no larger than the store that took the events, when entries expired between its links', () => {
    const s = new DedupStore({ ttlMs: 10_000, maxEntries: 100_000 });
    for (let i = 0; i < 3_000; i++) set(s, `old${i}`, i);
    // The 2 500 oldest expire, then as many new keys come.
    const chained = chainedRestore(s, () => {
      s.expire(12_500);
      for (let i = 0; i < 2_500; i++) set(s, `new${i}`, 12_500 + i);
    });
    expect(chained.memoryBytes()).toBeLessThanOrEqual(s.memoryBytes());
  });

  it('a change holds only what was set since the last write', () => {
    const s = new DedupStore({ ttlMs: 1e9, maxEntries: 100 });
    for (let i = 0; i < 50; i++) set(s, `old${i}`, i);
    const w = new BinaryWriter(64);
    s.write(w, false);
    set(s, 'new', 100);
    set(s, 'old3', 101);
    w.reset();
    s.write(w, true);
    const r = new BinaryReader(w.copy());
    expect([r.u32(), r.u32()]).toEqual([51, 2]);
  });

  it('states what a memory budget holds: the most entries whose arrays fit', () => {
    const n = entriesForBudget(80 * 2 ** 20);
    expect(n).toBe(2_097_152);
    expect(dedupBytes(n)).toBeLessThanOrEqual(80 * 2 ** 20);
    expect(dedupBytes(n + 1)).toBeGreaterThan(80 * 2 ** 20);
    expect(dedupBytes(n) / n).toBeLessThanOrEqual(48);
  });
});
