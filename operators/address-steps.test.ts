import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { AddressSteps, groupOf, RECENT_GROUP_STEPS, RECENT_GROUPS } from './address-steps.ts';

/** The steps of the RECENT_GROUPS groups ending with `step`'s that `recentGroups` rules out although the table has a key there. */
function missed(table: AddressSteps, address: number, step: number): number[] {
  const group = groupOf(step);
  const recent = table.recentGroups(address, ~address >>> 0, group);
  const out: number[] = [];
  for (let s = (group - RECENT_GROUPS + 1) * RECENT_GROUP_STEPS; s < (group + 1) * RECENT_GROUP_STEPS; s++) {
    if ((recent & (1 << (group - groupOf(s)))) === 0 && table.find(address, ~address >>> 0, s) >= 0) out.push(s);
  }
  return out;
}

describe('AddressSteps.recentGroups', () => {
  it('never rules out a step that holds a key, whatever order the steps came in, rules out the empty groups, and knows the latest step', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), fc.nat(160)), { minLength: 1, maxLength: 300 }), fc.nat(240), (adds, query) => {
        const table = new AddressSteps(10_000);
        for (const [address, step] of adds) table.add(address, ~address >>> 0, 2000 + step, 7, false, false);
        for (let address = 0; address <= 5; address++) {
          expect(missed(table, address, 2000 + query)).toEqual([]);
          const steps = adds.filter(([a]) => a === address).map(([, s]) => 2000 + s);
          expect(table.latestStep(address, ~address >>> 0)).toBe(steps.length > 0 ? Math.max(...steps) : Number.POSITIVE_INFINITY);
        }
        // An address with keys in steps 2000 + s only: the bitmap rules out the rest of its latest 32 groups.
        const seen = new Set(adds.filter(([a]) => a === adds[0][0]).map(([, s]) => groupOf(2000 + s)));
        const latest = Math.max(...seen);
        const recent = table.recentGroups(adds[0][0], ~adds[0][0] >>> 0, latest);
        for (let k = 0; k < RECENT_GROUPS; k++) expect((recent & (1 << k)) !== 0).toBe(seen.has(latest - k));
      }),
    );
  });

  it('is rebuilt by a restore, from the whole table and from a change', () => {
    const table = new AddressSteps(10_000);
    for (const s of [10, 19, 7]) table.add(1, 2, s, 7, false, false); // groups 5, 9, 3
    const snapshot = new BinaryWriter(256);
    table.write(snapshot, false);
    table.add(1, 2, 81, 7, false, false); // group 40
    const change = new BinaryWriter(256);
    table.write(change, true);
    const restored = new AddressSteps(10_000);
    restored.read(new BinaryReader(snapshot.copy()), true);
    expect(restored.recentGroups(1, 2, 9)).toBe(1 | (1 << 4) | (1 << 6)); // groups 9, 5, 3
    restored.read(new BinaryReader(change.copy()), false);
    // Group 40: its own key; 9 is 31 back (bit 31); 5 and 3 are past the bitmap's 32 groups (a verdict looks them up).
    const recent = restored.recentGroups(1, 2, 40);
    expect(recent & 1).toBe(1);
    expect((recent >>> 31) & 1).toBe(1);
    expect((recent >>> 1) & 0x3fffffff).toBe(0);
  });

  it('reads a table written per minute into the last step of each minute', () => {
    const perMinute = new AddressSteps(100);
    perMinute.add(1, 2, 5, 7, true, false); // as state written per minute: minute 5
    const w = new BinaryWriter(256);
    perMinute.write(w, false);
    const steps = new AddressSteps(100);
    steps.read(new BinaryReader(w.copy()), true, (minute) => 2 * minute + 1);
    expect(steps.find(1, 2, 10)).toBe(-1);
    const slot = steps.find(1, 2, 11);
    expect([steps.views(slot), steps.banded(slot), steps.recentGroups(1, 2, 5)]).toEqual([1, 1, 1]);
  });

  it('knows nothing of an address it has no key of, so it rules nothing out', () => {
    expect(new AddressSteps(100).recentGroups(3, 4, 50)).toBe(0xffffffff);
  });
});
