import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ViewEvent } from '../schemas/view-event.ts';
import { BOT_SIGNALS, type BotRules, type BotSignal } from './bot-rules.ts';
import type { BotVerdict } from './bot-scorer.ts';
import { arbStream, key, rulesWith, score, scorer, toEvents } from './bot-scorer-fixtures.ts';

/**
 * A brute-force reference: every signal of an event and its viewer key recomputed from the complete
 * history, with no TTL, caps or incremental state (an address's signals are the address stage's).
 * The scorer must decide exactly like it while its state stays bounded.
 */
function referenceVerdicts(events: ViewEvent[], rules: BotRules): BotVerdict[] {
  const c = rules.config;
  const seen: Array<{ ts: number; vk: string; video: string; band: boolean }> = [];
  return events.map((e) => {
    const required = e.video_duration_ms === null ? 30_000 : Math.min(30_000, e.video_duration_ms / 2);
    const band = e.watch_ms >= required && e.watch_ms < required * (1 + c.watchPattern.bandRatio);
    const vk = key(e);
    seen.push({ ts: e.ts, vk, video: e.video_id, band });
    const within = (ms: number) => seen.filter((h) => h.ts > e.ts - ms && h.ts <= e.ts);
    const fires = (hs: typeof seen) => hs.length >= c.watchPattern.minViews && hs.filter((h) => h.band).length >= c.watchPattern.minFraction * hs.length;
    const byViewer = (hs: typeof seen) => hs.filter((h) => h.vk === vk);
    const fired: Record<BotSignal, boolean> = {
      ua_bot: rules.declaresBot(e.user_agent),
      ja3: e.ja3 !== null && rules.ja3Deny.has(e.ja3.toLowerCase()),
      datacenter_ip: rules.datacenter.has(e.ip),
      ip_velocity: false,
      watch_pattern: fires(byViewer(within(c.watchPattern.windowMs))),
      replay_rate:
        byViewer(within(c.replay.windowMs)).filter((h) => h.video === e.video_id).length > c.replay.maxSameVideoViews ||
        new Set(byViewer(within(c.replay.distinctWindowMs)).map((h) => h.video)).size > c.replay.maxDistinctVideos,
    };
    const reasons = BOT_SIGNALS.filter((sig) => fired[sig]);
    const total = Math.round(reasons.reduce((sum, sig) => sum + c.weights[sig], 0) * 1e6) / 1e6;
    return { bot: fired.ua_bot || total >= c.threshold, score: total, reasons };
  });
}

describe('bot scorer: against a brute-force reference', () => {
  it('decides exactly like the reference over whole histories, TTL expiry included (300 random streams)', () => {
    // A distinct-videos limit the random streams (nine videos) can pass.
    const rules = rulesWith({ replay: { maxDistinctVideos: 4 } });
    const exercised = new Set<string>();
    fc.assert(
      fc.property(arbStream, (steps) => {
        const events = toEvents(steps);
        const s = scorer({ rules });
        const verdicts = events.map((e) => score(s, e));
        expect(verdicts).toEqual(referenceVerdicts(events, rules));
        verdicts.forEach((v) => v.reasons.forEach((r) => exercised.add(r)));
        if (s.expirations > 0) exercised.add('expiry');
      }),
      // A fixed seed: the coverage check below must hold for the streams actually generated.
      { numRuns: 300, seed: 7 },
    );
    expect([...exercised].sort()).toEqual(['datacenter_ip', 'expiry', 'ja3', 'replay_rate', 'watch_pattern']);
  });
});
