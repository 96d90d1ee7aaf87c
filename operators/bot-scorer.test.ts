import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { RECORD_BAND, RECORD_DATACENTER } from '../schemas/address-messages.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import { createBotScorer, type BotScorer } from './bot-scorer.ts';
import { ADDRESS_KEYS, arbStream, DEFAULT_WATCH, FINGERPRINTS, key, MINUTE, rulesWith, score, scorer, SECOND, T0, toEvents, view } from './bot-scorer-fixtures.ts';
import { ADDRESS_JUDGED } from './view-record.ts';

describe('bot scorer: single-event signals', () => {
  it('fires nothing for an ordinary view', () => {
    expect(score(scorer(), view())).toEqual({ bot: false, score: 0, reasons: [] });
  });

  it('ua_bot: a self-declared bot is a bot on that alone, whatever its weight', () => {
    const v = score(scorer(), view({ user_agent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }));
    expect(v).toEqual({ bot: true, score: 1, reasons: ['ua_bot'] });
    const weightless = score(scorer({ rules: rulesWith({ weights: { ua_bot: 0 } }) }), view({ user_agent: 'curl/8.5.0' }));
    expect(weightless).toEqual({ bot: true, score: 0, reasons: ['ua_bot'] });
  });

  it('ja3: a denied TLS fingerprint (any case) is a bot; a browser one or none is not', () => {
    const s = scorer();
    expect(score(s, view({ ja3: 'B32309A26951912BE7DBA376398ABC3B' }))).toEqual({ bot: true, score: 1, reasons: ['ja3'] });
    expect(score(s, view({ ja3: 'cd08e31494f9531f560d64c695473da9' })).reasons).toEqual([]);
    expect(score(s, view({ ja3: '' })).reasons).toEqual([]);
  });

  it('datacenter_ip: adds its weight, alone below the threshold, for IPv4, IPv6 and mapped addresses', () => {
    const s = scorer();
    for (const ip of ['3.91.2.3', '2600:1f00:ab::7', '::ffff:3.91.2.4', '2A01:4F8::1']) {
      expect(score(s, view({ ip }))).toEqual({ bot: false, score: 0.6, reasons: ['datacenter_ip'] });
    }
    expect(score(s, view({ ip: '73.1.2.3' })).reasons).toEqual([]);
    expect(score(s, view({ ip: 'garbage' })).reasons).toEqual([]);
  });

  it('threshold and weights come from the rules', () => {
    expect(score(scorer({ rules: rulesWith({ threshold: 0.5 }) }), view({ ip: '3.91.2.3' })).bot).toBe(true);
    expect(score(scorer({ rules: rulesWith({ weights: { datacenter_ip: 1.2 } }) }), view({ ip: '3.91.2.3' }))).toEqual({ bot: true, score: 1.2, reasons: ['datacenter_ip'] });
    expect(score(scorer({ rules: rulesWith({ threshold: 2 }) }), view({ ja3: 'b32309a26951912be7dba376398abc3b' })).bot).toBe(false);
  });
});

describe('bot scorer: the address key for the address stage', () => {
  const keyOf = (s: BotScorer, ip: string, over: Partial<ViewEvent> = {}) => {
    score(s, view({ ip, ...over }));
    return { key: `${s.addressHi}/${s.addressLo}`, flags: s.addressFlags };
  };

  it('judges no address here: a burst from one address is no bot for the scorer (the address stage sees all its views)', () => {
    const s = scorer();
    const verdicts = Array.from({ length: 200 }, (_, i) => score(s, view({ ip: '73.1.1.1', ts: T0 + i * 100 })));
    expect(verdicts.filter((v) => v.bot)).toHaveLength(0);
  });

  it('keys an IPv4 address, the same one written as IPv4-mapped IPv6, and one IPv6 /64 (hosts rotate addresses inside it) alike', () => {
    const s = scorer();
    expect(keyOf(s, '73.9.9.9').key).toBe(keyOf(s, '::ffff:73.9.9.9').key);
    expect(keyOf(s, '73.9.9.9').key).not.toBe(keyOf(s, '73.9.9.10').key);
    expect(keyOf(s, '2a02:8108:1:2::1').key).toBe(keyOf(s, '2a02:8108:1:2:ffff::9').key);
    expect(keyOf(s, '2a02:8108:1:2::1').key).not.toBe(keyOf(s, '2a02:8108:1:3::1').key);
    // a keyed hash: another secret gives other keys
    const other = createBotScorer({ rules: () => rulesWith(), watch: DEFAULT_WATCH, addressKeys: FINGERPRINTS });
    expect(keyOf(other, '73.9.9.9').key).not.toBe(keyOf(s, '73.9.9.9').key);
  });

  it('leaves carrier-NAT and unparsable addresses to no address verdict, and marks the band and datacenter ranges', () => {
    const s = scorer();
    for (const ip of ['100.64.1.1', '2607:fb90:1:2::3', '172.32.5.5', 'garbage']) expect(keyOf(s, ip).flags).toBe(0);
    expect(keyOf(s, '73.1.1.1').flags).toBe(ADDRESS_JUDGED);
    expect(keyOf(s, '3.91.2.3').flags).toBe(ADDRESS_JUDGED | RECORD_DATACENTER);
    expect(keyOf(s, '73.1.1.1', { watch_ms: 30_500 }).flags).toBe(ADDRESS_JUDGED | RECORD_BAND);
  });

  it('follows a reloaded carrier-NAT list from the next event', () => {
    let rules = rulesWith({ carrierNatCidrs: [] });
    const s = createBotScorer({ rules: () => rules, watch: DEFAULT_WATCH, addressKeys: ADDRESS_KEYS });
    expect(keyOf(s, '100.64.1.1').flags).toBe(ADDRESS_JUDGED);
    rules = rulesWith();
    expect(keyOf(s, '100.64.1.1').flags).toBe(0);
  });
});

describe('bot scorer: watch_pattern', () => {
  it('fires when a viewer keeps stopping just past the view threshold', () => {
    const s = scorer();
    const v = (i: number, watch_ms: number) => score(s, view({ viewer_id: 'farm-1', ip: `73.0.0.${i + 1}`, ts: T0 + i * MINUTE, watch_ms }));
    expect(v(0, 30_200).reasons).toEqual([]);
    expect(v(1, 31_000).reasons).toEqual([]);
    expect(v(2, 30_050)).toEqual({ bot: true, score: 1, reasons: ['watch_pattern'] });
  });

  it("looks just past the job's own watch threshold, not a default", () => {
    const s = scorer({ watch: { ...DEFAULT_WATCH, minWatchMs: 60_000 } });
    const v = (viewer_id: string, i: number, watch_ms: number) => score(s, view({ viewer_id, ip: `73.0.3.${i + 1}`, ts: T0 + i * MINUTE, watch_ms })).reasons;
    // Just past 30 s is no longer the band once the threshold is 60 s; just past 60 s is.
    expect([30_100, 30_100, 30_100].map((w, i) => v('farm-2', i, w))).toEqual([[], [], []]);
    expect([60_100, 60_200, 60_050].map((w, i) => v('farm-3', i, w))).toEqual([[], [], ['watch_pattern']]);
  });

  it('uses half the duration of a shorter video as the threshold', () => {
    const s = scorer();
    const short = (i: number, watch_ms: number, viewer_id: string) => score(s, view({ viewer_id, ip: `73.0.1.${i + 1}`, ts: T0 + i * MINUTE, watch_ms, video_duration_ms: 20_000 }));
    // Band for a 20 s video: [10 000, 10 500).
    expect([10_100, 10_400, 10_000].map((w, i) => short(i, w, 'a').reasons)).toEqual([[], [], ['watch_pattern']]);
    expect([10_600, 10_600, 10_600].map((w, i) => short(i, w, 'b').reasons)).toEqual([[], [], []]);
  });

  it('needs enough views and a large enough share of them in the band', () => {
    const s = scorer();
    const v = (i: number, watch_ms: number) => score(s, view({ viewer_id: 'mixed', ip: `73.0.2.${i + 1}`, ts: T0 + i * MINUTE, watch_ms })).reasons;
    // In band: yes, no, yes, no — never 75 %.
    expect([30_500, 200_000, 30_500, 95_000].map((w, i) => v(i, w))).toEqual([[], [], [], []]);
    // Outside the 30-minute window the earlier views no longer count.
    const later = (i: number) => score(s, view({ viewer_id: 'mixed', ip: '73.0.2.99', ts: T0 + 40 * MINUTE + i * MINUTE, watch_ms: 30_100 })).reasons;
    expect([later(0), later(1), later(2)]).toEqual([[], [], ['watch_pattern']]);
  });

  it('leaves the pattern across the accounts of one address to the address stage, marking each view in the band', () => {
    const s = scorer();
    const v = (i: number) => {
      const verdict = score(s, view({ viewer_id: `acct-${i}`, ip: '98.1.2.3', ts: T0 + i * MINUTE, watch_ms: 30_300 }));
      return [verdict.reasons, s.addressFlags & RECORD_BAND];
    };
    expect([v(0), v(1), v(2)]).toEqual([[[], RECORD_BAND], [[], RECORD_BAND], [[], RECORD_BAND]]);
  });
});

describe('bot scorer: replay_rate', () => {
  it('fires when one viewer re-views the same video more than the limit within the window', () => {
    const s = scorer();
    const again = (i: number, ip = '73.5.5.5') => score(s, view({ session_id: 'loop', video_id: 'v-target', ip, ts: T0 + i * 5 * MINUTE }));
    for (let i = 0; i < 4; i++) expect(again(i).reasons).toEqual([]);
    expect(again(4)).toEqual({ bot: false, score: 0.6, reasons: ['replay_rate'] });
    // Soft on its own; together with a datacenter address it reaches the threshold.
    expect(again(5, '3.91.0.1')).toEqual({ bot: true, score: 1.2, reasons: ['datacenter_ip', 'replay_rate'] });
    // An hour after the first views, only the last hour's count.
    const late = score(s, view({ session_id: 'loop', video_id: 'v-target', ts: T0 + 25 * MINUTE + 60 * MINUTE }));
    expect(late.reasons).toEqual([]);
  });

  it('fires when one viewer runs through many different videos in a short time', () => {
    const s = scorer();
    const next = (i: number, gap = 30 * SECOND) => score(s, view({ session_id: 'binge', ip: '3.91.0.2', ts: T0 + i * gap }));
    for (let i = 0; i < 12; i++) expect(next(i).reasons).toEqual(['datacenter_ip']);
    expect(next(12)).toEqual({ bot: true, score: 1.2, reasons: ['datacenter_ip', 'replay_rate'] });
    // The same number of videos spread over an hour is fine.
    const calm = (i: number) => score(s, view({ session_id: 'calm', ts: T0 + i * 4 * MINUTE })).reasons;
    expect(Array.from({ length: 15 }, (_, i) => calm(i)).flat()).toEqual([]);
  });

  it('holds the partition’s share of a viewer’s videos to the whole-stream limit (it may under-count, never over-count)', () => {
    const s = scorer();
    const next = (i: number) => score(s, view({ session_id: 'binge4', ts: T0 + i * 30 * SECOND })).reasons;
    expect(Array.from({ length: 12 }, (_, i) => next(i)).flat()).toEqual([]);
    expect(next(12)).toEqual(['replay_rate']);
  });
});

describe('bot scorer: rules reloaded while running', () => {
  it('decides new events under the new rules and leaves earlier verdicts alone', () => {
    let rules = rulesWith();
    const s = createBotScorer({ rules: () => rules, watch: DEFAULT_WATCH, addressKeys: ADDRESS_KEYS });
    const before = score(s, view({ ip: '3.91.2.3' }), 's:x');
    expect(before.bot).toBe(false);
    rules = rulesWith({ weights: { datacenter_ip: 1 } });
    expect(score(s, view({ ip: '3.91.2.3' }), 's:y')).toEqual({ bot: true, score: 1, reasons: ['datacenter_ip'] });
    rules = rulesWith({ datacenterCidrs: [] });
    expect(score(s, view({ ip: '3.91.2.3' }), 's:z').reasons).toEqual([]);
    expect(before).toEqual({ bot: false, score: 0.6, reasons: ['datacenter_ip'] });
  });
});

/** The scorer's whole state as bytes. */
function stateOf(s: BotScorer): Buffer {
  const w = new BinaryWriter(64);
  s.write(w, false);
  return w.copy();
}

/** A scorer's change since its last write, as bytes. */
function changeOf(s: BotScorer): Buffer {
  const w = new BinaryWriter(64);
  s.write(w, true);
  return w.copy();
}

describe('bot scorer: snapshot and restore', () => {
  it('restores into a fresh scorer that then decides exactly as the original (300 random streams)', () => {
    fc.assert(
      fc.property(arbStream, fc.nat(), (steps, cut) => {
        const events = toEvents(steps);
        const at = cut % (events.length + 1);
        const original = scorer();
        const expected = events.map((e) => score(original, e));
        const first = scorer();
        events.slice(0, at).forEach((e) => score(first, e));
        const resumed = scorer();
        resumed.read(new BinaryReader(stateOf(first)), true);
        expect(events.slice(at).map((e) => score(resumed, e))).toEqual(expected.slice(at));
        expect(stateOf(resumed).equals(stateOf(original))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a snapshot and the changes after it restore the exact state, small caps and evictions included (300 random streams)', () => {
    fc.assert(
      fc.property(arbStream, fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(4, 12, 1_000), (steps, cuts, cap) => {
        const events = toEvents(steps);
        const at = [...new Set(cuts.map((c) => c % (events.length + 1)))].sort((a, b) => a - b);
        const original = scorer({ maxViewerKeys: cap });
        const base = stateOf(original);
        const changes: Buffer[] = [];
        let done = 0;
        for (const cut of [...at, events.length]) {
          events.slice(done, cut).forEach((e) => score(original, e));
          done = cut;
          changes.push(changeOf(original));
        }
        const resumed = scorer({ maxViewerKeys: cap });
        resumed.read(new BinaryReader(base), true);
        for (const c of changes) resumed.read(new BinaryReader(c), false);
        expect(stateOf(resumed).equals(stateOf(original))).toBe(true);
        expect([resumed.size(), resumed.evictions, resumed.expirations]).toEqual([original.size(), original.evictions, original.expirations]);
        // and it goes on deciding the same
        const more = toEvents(steps.slice(0, 20)).map((e) => ({ ...e, ts: e.ts + 2 * MINUTE }));
        expect(more.map((e) => score(resumed, e))).toEqual(more.map((e) => score(original, e)));
      }),
      { numRuns: 300 },
    );
  });

  it('holds no string of a key: viewer keys are fingerprints, and a change only the keys seen since', () => {
    const s = scorer();
    toEvents(Array.from({ length: 50 }, (_, i) => ({ gap: 1000, ip: i % 2 ? '73.1.1.1' : '2a02:8108:9::1', viewer: i % 3, video: i % 5, watch: 40_000, ja3: null }))).forEach((e) => score(s, e));
    const bytes = stateOf(s);
    for (const text of ['73.1.1.1', '2a02', 's:', 'v:']) expect(bytes.includes(Buffer.from(text))).toBe(false);
    expect(new BinaryReader(bytes).f64()).toBe(T0 + 50_000);
    expect(s.size()).toBe(3);
    score(s, view({ session_id: 'new-one', ip: '73.1.1.1', ts: T0 + 51_000 }));
    const r = new BinaryReader(changeOf(s));
    r.f64();
    expect([r.u32(), r.f64(), r.f64(), r.u32()]).toEqual([4, 0, 0, 1]); // one viewer seen since, of 4 held
  });
});

describe('bot scorer: bounded state', () => {
  it('expires keys once all their observations have left every window', () => {
    const s = scorer();
    for (let i = 0; i < 100; i++) score(s, view({ session_id: `old-${i}`, ip: `73.2.0.${i + 1}`, ts: T0 + i }));
    expect(s.size()).toBe(100);
    // An hour and a bit later (the longest window is 60 min), each new event sweeps expired keys.
    for (let i = 0; i < 60; i++) score(s, view({ session_id: `new-${i}`, ip: '73.3.0.1', ts: T0 + 61 * MINUTE + i }));
    expect(s.expirations).toBe(100);
    expect(s.size()).toBe(60);
    expect(s.evictions).toBe(0);
  });

  it('caps the number of keys, evicting the least recently seen and counting it', () => {
    const s = scorer({ maxViewerKeys: 10 });
    for (let i = 0; i < 25; i++) score(s, view({ session_id: `k${i}`, ip: `73.4.0.${i + 1}`, ts: T0 + i }));
    expect(s.size()).toBe(10);
    expect(s.evictions).toBe(15);
    // The least recently seen went: a viewer seen again now is new unless among the last 10.
    const replays = (sessions: number[]) => sessions.map((i) => score(s, view({ session_id: `k${i}`, video_id: 'same', ip: '73.5.0.1', ts: T0 + 100 })));
    const before = s.evictions;
    replays([24, 23, 22]);
    expect(s.evictions).toBe(before); // the three viewers were held
    replays([0]);
    expect(s.evictions).toBe(before + 1); // viewer k0 was evicted long ago
    // Restoring into a smaller cap keeps the most recently seen keys.
    const small = scorer({ maxViewerKeys: 3 });
    small.read(new BinaryReader(stateOf(s)), true);
    expect(small.size()).toBe(3);
  });

  it('keeps at most maxEventsPerKey observations per key, raised above the count limits', () => {
    const s = scorer({ maxEventsPerKey: 16 });
    for (let i = 0; i < 500; i++) score(s, view({ session_id: 'busy', ip: '73.6.6.6', ts: T0 + i * 10 }));
    const r = new BinaryReader(stateOf(s));
    r.f64();
    const track = () => {
      r.u32(); r.f64(); r.f64(); r.u32(); // counts
      r.u32(); r.u32(); r.f64(); // fingerprint, latest time
      const n = r.u32();
      r.bytes(12 * n);
      return n;
    };
    // The distinct-videos limit (12) needs 13 observations; the cap of 16 is above it.
    expect(track()).toBe(16);
  });
});
