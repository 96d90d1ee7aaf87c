import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedTtlMap } from './bounded-ttl-map.ts';

describe('BoundedTtlMap', () => {
  it('forgets entries once they are older than the TTL in event time', () => {
    const m = new BoundedTtlMap({ ttlMs: 1000, maxEntries: 10 });
    m.set('a', 0);
    expect(m.get('a', 999)).toBe(0);
    expect(m.get('a', 1000)).toBeUndefined();
  });

  it('expires from the oldest end and stops at the first live entry', () => {
    const m = new BoundedTtlMap({ ttlMs: 1000, maxEntries: 10 });
    m.set('a', 0);
    m.set('b', 500);
    m.set('c', 1200);
    m.expire(1400);
    expect(m.size).toBe(2);
    expect(m.get('b', 1400)).toBe(500);
  });

  it('evicts the oldest entry at the cap and counts the eviction', () => {
    const m = new BoundedTtlMap({ ttlMs: 1e9, maxEntries: 2 });
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3); // refreshing moves a to the newest end
    m.set('c', 4);
    expect(m.size).toBe(2);
    expect(m.evictions).toBe(1);
    expect(m.get('b', 4)).toBeUndefined();
    expect(m.get('a', 4)).toBe(3);
  });

  it('restores a snapshot with the same order and times', () => {
    const m = new BoundedTtlMap({ ttlMs: 1000, maxEntries: 3 });
    m.set('x', 10);
    m.set('y', 20);
    const copy = new BoundedTtlMap({ ttlMs: 1000, maxEntries: 3 });
    copy.restore(JSON.parse(JSON.stringify(m.snapshot())));
    copy.set('z', 30);
    copy.set('w', 40);
    expect(copy.get('x', 40)).toBeUndefined();
    expect(copy.get('y', 40)).toBe(20);
  });

  it('a snapshot and the deltas after it restore the exact map: order, times, expiry and the cap (500 random histories)', () => {
    const op = fc.oneof(
      fc.record({ set: fc.integer({ min: 0, max: 30 }), t: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({ expire: fc.integer({ min: 0, max: 6_000 }) }),
      fc.constant({ checkpoint: true as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 12 }), (ops, cap) => {
        const m = new BoundedTtlMap({ ttlMs: 1_000, maxEntries: cap });
        const base = m.snapshot();
        const deltas = [];
        for (const o of ops) {
          if ('set' in o) m.set(`k${o.set}`, o.t);
          else if ('expire' in o) m.expire(o.expire);
          else deltas.push(JSON.parse(JSON.stringify(m.delta())));
        }
        deltas.push(m.delta());
        const copy = new BoundedTtlMap({ ttlMs: 1_000, maxEntries: cap });
        copy.restore(base, deltas);
        expect(copy.snapshot()).toEqual(m.snapshot());
      }),
      { numRuns: 500 },
    );
  });
});
