import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { createBotScorer, type BotScorer } from './bot-scorer.ts';
import { arbStream, DEFAULT_WATCH, FINGERPRINTS, key, MINUTE, rulesWith, score, scorer, SECOND, T0, toEvents, view } from './bot-scorer-fixtures.ts';

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

describe('bot scorer: ip_velocity over a true sliding window', () => {
  const hit = (s: BotScorer, ip: string, ts: number) => score(s, view({ ip, ts }));

  it('fires above the limit within the window, and stops once the window has slid past', () => {
    const s = scorer();
    for (let i = 0; i < 30; i++) expect(hit(s, '73.9.9.9', T0 + i * SECOND).reasons).toEqual([]);
    expect(hit(s, '73.9.9.9', T0 + 30 * SECOND)).toEqual({ bot: true, score: 1, reasons: ['ip_velocity'] });
    // 61 s after the burst began, only the views of the last 60 s count.
    expect(hit(s, '73.9.9.9', T0 + 89 * SECOND).reasons).toEqual([]);
    // Another IP is unaffected.
    expect(hit(s, '73.9.9.10', T0 + 30 * SECOND).reasons).toEqual([]);
  });

  it('counts across a minute boundary, which fixed per-minute buckets would miss', () => {
    const s = scorer();
    const minute = Math.floor(T0 / MINUTE) * MINUTE;
    // 20 views in the last 20 s of one minute, 11 in the first 11 s of the next: 31 within 31 s.
    for (let i = 0; i < 20; i++) expect(hit(s, '73.8.8.8', minute - 20 * SECOND + i * SECOND).bot).toBe(false);
    for (let i = 0; i < 10; i++) expect(hit(s, '73.8.8.8', minute + i * SECOND).bot).toBe(false);
    expect(hit(s, '73.8.8.8', minute + 10 * SECOND).reasons).toEqual(['ip_velocity']);
  });

  it('scales the whole-topic limit by the partition count', () => {
    const s = scorer({ partitionCount: 4 }); // 30 / 4 → 8 per partition
    for (let i = 0; i < 8; i++) expect(hit(s, '73.7.7.7', T0 + i * SECOND).bot).toBe(false);
    expect(hit(s, '73.7.7.7', T0 + 8 * SECOND).reasons).toEqual(['ip_velocity']);
  });

  it('treats one IPv6 /64 as one source (hosts rotate addresses inside it)', () => {
    const s = scorer();
    for (let i = 0; i < 30; i++) expect(hit(s, `2a02:8108:1:2::${(i + 1).toString(16)}`, T0 + i * SECOND).bot).toBe(false);
    expect(hit(s, '2a02:8108:1:2:ffff::1', T0 + 30 * SECOND).reasons).toEqual(['ip_velocity']);
    expect(hit(s, '2a02:8108:1:3::1', T0 + 30 * SECOND).reasons).toEqual([]);
  });

  it('skips carrier-NAT addresses: a whole neighbourhood shares them', () => {
    const s = scorer();
    for (const ip of ['100.64.1.1', '2607:fb90:1:2::3', '172.32.5.5']) {
      for (let i = 0; i < 200; i++) expect(hit(s, ip, T0 + i * 100).reasons).toEqual([]);
    }
    // The same rate from an address on no allow list is caught.
    const verdicts = Array.from({ length: 200 }, (_, i) => hit(s, '73.1.1.1', T0 + i * 100));
    expect(verdicts.filter((v) => v.bot)).toHaveLength(170);
  });

  it('lets the allow list take precedence over a burst only for listed ranges (rules reloaded)', () => {
    let rules = rulesWith({ carrierNatCidrs: [] });
    const s = createBotScorer({ partitionCount: 1, rules: () => rules, watch: DEFAULT_WATCH, fingerprints: FINGERPRINTS });
    const burst = (from: number) => Array.from({ length: 40 }, (_, i) => score(s, view({ ip: '100.64.1.1', ts: from + i * 100 }), `s:n${from}-${i}`).bot);
    expect(burst(T0).filter(Boolean).length).toBe(10);
    rules = rulesWith();
    expect(burst(T0 + 10 * SECOND).filter(Boolean).length).toBe(0);
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

  it('fires per IP too, when a farm spreads the pattern over many accounts', () => {
    const s = scorer();
    const v = (i: number) => score(s, view({ viewer_id: `acct-${i}`, ip: '98.1.2.3', ts: T0 + i * MINUTE, watch_ms: 30_300 })).reasons;
    expect([v(0), v(1), v(2)]).toEqual([[], [], ['watch_pattern']]);
    // …but not behind carrier NAT, where the accounts are different people.
    const nat = (i: number) => score(s, view({ viewer_id: `nat-${i}`, ip: '100.64.9.9', ts: T0 + i * MINUTE, watch_ms: 30_300 })).reasons;
    expect([nat(0), nat(1), nat(2)]).toEqual([[], [], []]);
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

  it('scales the distinct-videos limit by the partition count (12 / 4 → 3)', () => {
    const s = scorer({ partitionCount: 4 });
    const next = (i: number) => score(s, view({ session_id: 'binge4', ts: T0 + i * 30 * SECOND })).reasons;
    expect([next(0), next(1), next(2), next(3)]).toEqual([[], [], [], ['replay_rate']]);
  });
});

describe('bot scorer: rules reloaded while running', () => {
  it('decides new events under the new rules and leaves earlier verdicts alone', () => {
    let rules = rulesWith();
    const s = createBotScorer({ partitionCount: 1, rules: () => rules, watch: DEFAULT_WATCH, fingerprints: FINGERPRINTS });
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
        const original = scorer({ partitionCount: 2 });
        const expected = events.map((e) => score(original, e));
        const first = scorer({ partitionCount: 2 });
        events.slice(0, at).forEach((e) => score(first, e));
        const resumed = scorer({ partitionCount: 2 });
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
        const original = scorer({ partitionCount: 2, maxIpKeys: cap, maxViewerKeys: cap });
        const base = stateOf(original);
        const changes: Buffer[] = [];
        let done = 0;
        for (const cut of [...at, events.length]) {
          events.slice(done, cut).forEach((e) => score(original, e));
          done = cut;
          changes.push(changeOf(original));
        }
        const resumed = scorer({ partitionCount: 2, maxIpKeys: cap, maxViewerKeys: cap });
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

  it('holds no string of a key: IPs and viewer keys are fingerprints, and a change only the keys seen since', () => {
    const s = scorer();
    toEvents(Array.from({ length: 50 }, (_, i) => ({ gap: 1000, ip: i % 2 ? '73.1.1.1' : '2a02:8108:9::1', viewer: i % 3, video: i % 5, watch: 40_000, ja3: null }))).forEach((e) => score(s, e));
    const bytes = stateOf(s);
    for (const text of ['73.1.1.1', '2a02', 's:', 'v:']) expect(bytes.includes(Buffer.from(text))).toBe(false);
    expect(new BinaryReader(bytes).f64()).toBe(T0 + 50_000);
    expect(s.size()).toBe(2 + 3);
    score(s, view({ session_id: 'new-one', ip: '73.1.1.1', ts: T0 + 51_000 }));
    const r = new BinaryReader(changeOf(s));
    r.f64();
    expect([r.u32(), r.f64(), r.f64(), r.u32()]).toEqual([2, 0, 0, 1]); // one IP seen since, of 2 held
  });
});

describe('bot scorer: bounded state', () => {
  it('expires keys once all their observations have left every window', () => {
    const s = scorer();
    for (let i = 0; i < 100; i++) score(s, view({ session_id: `old-${i}`, ip: `73.2.0.${i + 1}`, ts: T0 + i }));
    expect(s.size()).toBe(200);
    // An hour and a bit later (the longest window is 60 min), each new event sweeps expired keys.
    for (let i = 0; i < 60; i++) score(s, view({ session_id: `new-${i}`, ip: '73.3.0.1', ts: T0 + 61 * MINUTE + i }));
    expect(s.expirations).toBe(200);
    expect(s.size()).toBe(61);
    expect(s.evictions).toBe(0);
  });

  it('caps the number of keys, evicting the least recently seen and counting it', () => {
    const s = scorer({ maxViewerKeys: 10, maxIpKeys: 5 });
    for (let i = 0; i < 25; i++) score(s, view({ session_id: `k${i}`, ip: `73.4.0.${i + 1}`, ts: T0 + i }));
    expect(s.size()).toBe(15);
    expect(s.evictions).toBe(15 + 20);
    // The least recently seen went: a viewer seen again now is new unless among the last 10.
    const replays = (sessions: number[]) => sessions.map((i) => score(s, view({ session_id: `k${i}`, video_id: 'same', ip: '73.5.0.1', ts: T0 + 100 })));
    const before = s.evictions;
    replays([24, 23, 22]);
    expect(s.evictions).toBe(before + 1); // only the new IP: the three viewers were held
    replays([0]);
    expect(s.evictions).toBe(before + 2); // viewer k0 was evicted long ago
    // Restoring into a smaller cap keeps the most recently seen keys.
    const small = scorer({ maxViewerKeys: 3, maxIpKeys: 3 });
    small.read(new BinaryReader(stateOf(s)), true);
    expect(small.size()).toBe(6);
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
    // The velocity limit (30) needs 31 observations: the cap is raised to that.
    expect([track(), track()]).toEqual([31, 31]);
  });
});
