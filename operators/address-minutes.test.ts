import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { AddressMinutes, RECENT_MINUTES } from './address-minutes.ts';

/** The minutes among the RECENT_MINUTES ending with `minute` that `recentMinutes` rules out although the table has a key there. */
function missed(table: AddressMinutes, address: number, minute: number): number[] {
  const recent = table.recentMinutes(address, ~address >>> 0, minute);
  const out: number[] = [];
  for (let k = 0; k < RECENT_MINUTES; k++) {
    if ((recent & (1 << k)) === 0 && table.find(address, ~address >>> 0, minute - k) >= 0) out.push(minute - k);
  }
  return out;
}

describe('AddressMinutes.recentMinutes', () => {
  it('never rules out a minute that holds a key, whatever order the minutes came in, and rules out the empty ones', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), fc.nat(80)), { minLength: 1, maxLength: 300 }), fc.nat(120), (adds, query) => {
        const table = new AddressMinutes(10_000);
        for (const [address, minute] of adds) table.add(address, ~address >>> 0, 1000 + minute, 7, false, false);
        for (let address = 0; address <= 5; address++) expect(missed(table, address, 1000 + query)).toEqual([]);
        // An address with keys in minutes 1000 + m only: the bitmap rules out the rest of its latest 32 minutes.
        const seen = new Set(adds.filter(([a]) => a === adds[0][0]).map(([, m]) => m));
        const latest = Math.max(...seen);
        const recent = table.recentMinutes(adds[0][0], ~adds[0][0] >>> 0, 1000 + latest);
        for (let k = 0; k < RECENT_MINUTES; k++) expect((recent & (1 << k)) !== 0).toBe(seen.has(latest - k));
      }),
    );
  });

  it('is rebuilt by a restore, from the whole table and from a change', () => {
    const table = new AddressMinutes(10_000);
    for (const m of [5, 9, 3]) table.add(1, 2, m, 7, false, false);
    const snapshot = new BinaryWriter(256);
    table.write(snapshot, false);
    table.add(1, 2, 40, 7, false, false);
    const change = new BinaryWriter(256);
    table.write(change, true);
    const restored = new AddressMinutes(10_000);
    restored.read(new BinaryReader(snapshot.copy()), true);
    expect(restored.recentMinutes(1, 2, 9)).toBe(1 | (1 << 4) | (1 << 6)); // minutes 9, 5, 3
    restored.read(new BinaryReader(change.copy()), false);
    // Minute 40: its own key; 9 is 31 back (bit 31); 5 and 3 are past the bitmap's 32 minutes (a verdict looks them up).
    const recent = restored.recentMinutes(1, 2, 40);
    expect(recent & 1).toBe(1);
    expect((recent >>> 31) & 1).toBe(1);
    expect((recent >>> 1) & 0x3fffffff).toBe(0);
  });

  it('knows nothing of an address it has no key of, so it rules nothing out', () => {
    expect(new AddressMinutes(100).recentMinutes(3, 4, 50)).toBe(0xffffffff);
  });
});
