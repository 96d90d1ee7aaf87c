import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { TrackTable } from './track-table.ts';

// Keys are their own fingerprints here: (0, k).
type Op = { key: number; ts: number; tag: number; capacity: number } | { expire: number; ttl: number; budget: number } | { checkpoint: true };

/** The semantics the table must keep: tracks in a Map, least recently seen first, each its last `capacity` observations. */
class Reference {
  readonly tracks = new Map<number, { lastTs: number; obs: [number, number][] }>();
  evicted = 0;
  expired = 0;
  constructor(readonly maxKeys: number) {}
  record(key: number, ts: number, tag: number, capacity: number): [number, number][] {
    let t = this.tracks.get(key);
    if (t === undefined) {
      if (this.tracks.size >= this.maxKeys) {
        this.tracks.delete(this.tracks.keys().next().value!);
        this.evicted++;
      }
      t = { lastTs: ts, obs: [] };
    } else {
      this.tracks.delete(key);
      t.lastTs = Math.max(t.lastTs, ts);
    }
    this.tracks.set(key, t);
    t.obs.push([ts, tag]);
    if (t.obs.length > capacity) t.obs.splice(0, t.obs.length - capacity);
    return t.obs;
  }
  expire(now: number, ttl: number, budget: number): void {
    for (const [key, t] of this.tracks) {
      if (budget-- <= 0 || now - t.lastTs < ttl) return;
      this.tracks.delete(key);
      this.expired++;
    }
  }
}

function observations(t: TrackTable, slot: number): [number, number][] {
  t.view(slot);
  return Array.from({ length: t.obsLen }, (_, i) => [t.obsTs[t.obsAt(i)], t.obsTag[t.obsAt(i)]]);
}

function bytesOf(t: TrackTable): Buffer {
  const w = new BinaryWriter(64);
  t.write(w, false);
  return w.copy();
}

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ key: fc.integer({ min: 0, max: 40 }), ts: fc.integer({ min: 0, max: 10_000 }), tag: fc.nat(0xffffffff), capacity: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ expire: fc.integer({ min: 0, max: 12_000 }), ttl: fc.integer({ min: 1, max: 5_000 }), budget: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ checkpoint: true as const }) },
);

describe('TrackTable', () => {
  it('writes the stored layout: counts, then per key its fingerprint, latest time, count and (time, tag) per observation, oldest first', () => {
    const t = new TrackTable(10);
    t.record(1, 2, 1000.5, 7, 3);
    t.record(3, 4, 2000, 8, 3);
    t.record(1, 2, 900, 9, 3); // older than the key's latest time: kept as observed
    const expected = new BinaryWriter(8); // grows on the way, as a checkpoint's writer does
    expected.u32(2);
    expected.f64(0);
    expected.f64(0);
    expected.u32(2);
    for (const [hi, lo, last, obs] of [[3, 4, 2000, [[2000, 8]]], [1, 2, 1000.5, [[1000.5, 7], [900, 9]]]] as const) {
      expected.u32(hi);
      expected.u32(lo);
      expected.f64(last);
      expected.u32(obs.length);
      for (const [ts, tag] of obs) {
        expected.f64(ts);
        expected.u32(tag);
      }
    }
    const w = new BinaryWriter(8);
    t.write(w, false);
    expect(w.view()).toEqual(expected.view());
  });

  it("keeps each key's last observations, evicts the least recently seen and expires from that end, like the map it replaces (300 random histories)", () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 30 }), (ops, maxKeys) => {
        const t = new TrackTable(maxKeys);
        const ref = new Reference(maxKeys);
        for (const o of ops) {
          if ('key' in o) {
            const slot = t.record(0, o.key, o.ts, o.tag, o.capacity);
            expect(observations(t, slot)).toEqual(ref.record(o.key, o.ts, o.tag, o.capacity));
          } else if ('expire' in o) {
            t.expire(o.expire, o.ttl, o.budget);
            ref.expire(o.expire, o.ttl, o.budget);
          }
          expect(t.size).toBe(ref.tracks.size);
        }
        expect([t.evicted, t.expired]).toEqual([ref.evicted, ref.expired]);
      }),
      { numRuns: 300 },
    );
  });

  it('a snapshot and the changes written after it restore the exact table (300 random histories)', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 12 }), (ops, maxKeys) => {
        const t = new TrackTable(maxKeys);
        const snapshot = bytesOf(t);
        const changes: Buffer[] = [];
        const w = new BinaryWriter(64);
        for (const o of ops) {
          if ('key' in o) t.record(0, o.key, o.ts, o.tag, o.capacity);
          else if ('expire' in o) t.expire(o.expire, o.ttl, o.budget);
          else {
            w.reset();
            t.write(w, true);
            changes.push(w.copy());
          }
        }
        w.reset();
        t.write(w, true);
        changes.push(w.copy());
        const copy = new TrackTable(maxKeys);
        copy.read(new BinaryReader(snapshot), true);
        for (const c of changes) copy.read(new BinaryReader(c), false);
        expect(bytesOf(copy).equals(bytesOf(t))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('grows a track through block sizes and keeps the newest observations once at capacity', () => {
    const t = new TrackTable(10);
    let slot = -1;
    for (let i = 0; i < 100; i++) slot = t.record(1, 2, i, i * 10, 40);
    const obs = observations(t, slot);
    expect(obs.length).toBe(40);
    expect(obs[0]).toEqual([60, 600]);
    expect(obs[39]).toEqual([99, 990]);
  });
});
