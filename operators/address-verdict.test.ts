import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressSteps, VIDEO_SKETCH } from './address-steps.ts';
import { addressWindows, judgeAddress, type AddressJudgement, type AddressWindows } from './address-verdict.ts';
import { rulesWith } from './bot-scorer-fixtures.ts';
import { SIGNAL_BIT } from './bot-scorer.ts';

/** The judgement from every step of the windows, each looked up: what the bitmap of recent steps may only speed up. */
function reference(table: AddressSteps, hi: number, lo: number, step: number, w: AddressWindows): AddressJudgement {
  const c = w.rules.config;
  let [velocity, views, banded, datacenter] = [0, 0, 0, false];
  const videos = new Set<number>();
  const sketch = new Uint32Array(VIDEO_SKETCH);
  for (let k = 0; k < w.longest; k++) {
    const slot = table.find(hi, lo, step - k);
    if (slot < 0) continue;
    if (k < w.velocity) velocity += table.views(slot);
    if (k < w.pattern) (views += table.views(slot)), (banded += table.banded(slot));
    if (k < w.distinct) for (let i = 0, n = table.mergeVideos(slot, sketch, 0); i < n; i++) videos.add(sketch[i]);
    datacenter ||= table.datacenter(slot);
  }
  const distinct = Math.min(videos.size, VIDEO_SKETCH);
  let signals = 0;
  let total = 0;
  if (datacenter) (signals |= SIGNAL_BIT.datacenter_ip), (total += c.weights.datacenter_ip);
  if (velocity > c.ipVelocity.maxViews) (signals |= SIGNAL_BIT.ip_velocity), (total += c.weights.ip_velocity);
  if (views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views) (signals |= SIGNAL_BIT.watch_pattern), (total += c.weights.watch_pattern);
  if (c.replay.maxDistinctVideos < VIDEO_SKETCH && distinct > c.replay.maxDistinctVideos) (signals |= SIGNAL_BIT.replay_rate), (total += c.weights.replay_rate);
  const score = Math.round(total * 1e6) / 1e6;
  const p = c.watchPattern;
  return { signals, score, quietOnLess: score < c.threshold && (views < p.minViews || banded < p.minFraction * p.minViews) };
}

describe('judgeAddress', () => {
  // the default windows (up to 60 steps, within the bitmap's 64), and ones longer than the bitmap
  // reaches, with a velocity limit that any step's views may tip
  const longRules = new Map<number, ReturnType<typeof rulesWith>>();
  const rulesOf = (which: number, maxViews: number) => {
    if (which === 0) return rulesWith();
    if (!longRules.has(maxViews)) longRules.set(maxViews, rulesWith({ ipVelocity: { windowMs: 45 * 60_000, maxViews }, watchPattern: { windowMs: 44 * 60_000 }, replay: { distinctWindowMs: 33 * 60_000 } }));
    return longRules.get(maxViews)!;
  };

  it('sums the same windows as looking up every step, whatever steps the address has keys in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ address: fc.nat(3), step: fc.nat(120), video: fc.nat(30), band: fc.boolean(), dc: fc.nat(40) }), { minLength: 1, maxLength: 400 }),
        fc.nat(1),
        fc.integer({ min: 1, max: 150 }),
        fc.array(fc.nat(130), { minLength: 1, maxLength: 10 }),
        (adds, which, maxViews, judged) => {
          const table = new AddressSteps(10_000);
          for (const a of adds) table.add(a.address, a.address + 100, 5000 + a.step, a.video, a.band, a.dc === 0);
          const w = addressWindows(rulesOf(which, maxViews));
          expect(w.longest).toBe(which === 0 ? 60 : 90);
          const out: AddressJudgement = { signals: 0, score: 0, quietOnLess: false };
          for (const step of judged) {
            for (let address = 0; address <= 3; address++) {
              judgeAddress(table, address, address + 100, 5000 + step, w, out);
              expect({ ...out }).toEqual(reference(table, address, address + 100, 5000 + step, w));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('calls a judgement quiet on less only when no later step whose windows hold no newer view of the address flags it', () => {
    let quiet = 0;
    fc.assert(
      fc.property(
        fc.array(fc.record({ address: fc.nat(3), step: fc.nat(60), video: fc.nat(30), band: fc.nat(3), dc: fc.nat(40) }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        (adds, maxViews) => {
          const table = new AddressSteps(10_000);
          for (const a of adds) table.add(a.address, a.address + 100, 5000 + a.step, a.video, a.band > 0, a.dc === 0);
          const w = addressWindows(rulesWith({ ipVelocity: { maxViews }, watchPattern: { minViews: 2, minFraction: 0.5 } }));
          const out: AddressJudgement = { signals: 0, score: 0, quietOnLess: false };
          for (let address = 0; address <= 3; address++) {
            for (let s = 5000; s <= 5060; s++) {
              if (table.find(address, address + 100, s) < 0) continue;
              judgeAddress(table, address, address + 100, s, w, out);
              if (!out.quietOnLess) continue;
              quiet++;
              for (let t = s + 1; t <= s + 2 && table.find(address, address + 100, t) < 0; t++) expect(judgeAddress(table, address, address + 100, t, w, out)).toBe(false);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(quiet).toBeGreaterThan(100);
  });
});
