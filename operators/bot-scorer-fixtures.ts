import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { ViewEvent } from '../schemas/view-event.ts';
import { DEFAULT_BOT_RULES_PATH } from './bot-rules-source.ts';
import { parseBotRules, type BotRules } from './bot-rules.ts';
import { createBotScorer, type BotScorer, type BotVerdict } from './bot-scorer.ts';
import type { WatchRules } from './view-rules.ts';
import { Fingerprinter } from './fingerprint.ts';

// Shared by the bot scorer tests: events, rules and random streams.

export const T0 = Date.UTC(2025, 0, 6, 12);
export const SECOND = 1_000;
export const MINUTE = 60_000;
/** The fingerprints the tests' scorers use. */
export const FINGERPRINTS = new Fingerprinter('0123456789abcdef0123456789abcdef');
/** The address keys the tests' scorers give events. */
export const ADDRESS_KEYS = new Fingerprinter('fedcba9876543210fedcba9876543210');

/** The job's default watch threshold. */
export const DEFAULT_WATCH: WatchRules = { minWatchMs: 30_000, minWatchFraction: 0.5 };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/** The shipped rules with some settings replaced (a shallow merge per section). */
export function rulesWith(patch: Record<string, any> = {}): BotRules {
  const doc = JSON.parse(readFileSync(DEFAULT_BOT_RULES_PATH, 'utf8'));
  for (const [k, v] of Object.entries(patch)) doc[k] = typeof v === 'object' && !Array.isArray(v) ? { ...doc[k], ...v } : v;
  return parseBotRules(doc);
}

let seq = 0;
/** A person's view of a 10-minute video, watched for 4 minutes. */
export function view(over: Partial<ViewEvent> = {}): ViewEvent {
  seq++;
  return {
    event_id: `e${seq}`,
    event_type: 'view',
    video_id: `v${seq}`,
    channel_id: 'c1',
    category: 'music',
    viewer_id: null,
    owner_id: 'o1',
    session_id: `s${seq}`,
    ts: T0,
    watch_ms: 240_000,
    video_duration_ms: 600_000,
    country: 'US',
    device: 'desktop',
    traffic_source: 'search',
    ip: '73.12.34.56',
    user_agent: CHROME,
    ja3: null,
    ...over,
  };
}

/** A partition's scorer over fixed rules (the shipped ones unless given). */
export function scorer(options: { rules?: BotRules; watch?: WatchRules; maxViewerKeys?: number; maxEventsPerKey?: number } = {}): BotScorer {
  const { rules = rulesWith(), watch = DEFAULT_WATCH, ...caps } = options;
  return createBotScorer({ rules: () => rules, watch, addressKeys: ADDRESS_KEYS, ...caps });
}

/** The viewer key as the pipeline derives it, for events that always carry a session id. */
export const key = (e: ViewEvent) => (e.viewer_id ? `v:${e.viewer_id}` : `s:${e.session_id}`);
/** Scores `e` under a viewer key (its own by default) and returns the verdict. */
export function score(s: BotScorer, e: ViewEvent, viewerKey = key(e)): BotVerdict {
  FINGERPRINTS.string(viewerKey);
  s.score(e, FINGERPRINTS.hi, FINGERPRINTS.lo);
  return s.verdict();
}

/** A random stream mixing people, farms and bursts over a few IPs, for the property tests. */
export const arbStream = fc.array(
  fc.record({
    // Bursts (velocity), ordinary spacing, and long pauses (expiry).
    gap: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 * SECOND }), weight: 6 }, { arbitrary: fc.integer({ min: 0, max: 90 * SECOND }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 2 * 60 * MINUTE }), weight: 1 }),
    ip: fc.oneof({ arbitrary: fc.constant('73.1.1.1'), weight: 6 }, fc.constantFrom('73.1.1.2', '3.91.0.9', '100.64.0.5', '2a02:8108:9::1', '2a02:8108:9::2')),
    viewer: fc.integer({ min: 0, max: 6 }),
    video: fc.integer({ min: 0, max: 8 }),
    watch: fc.oneof(fc.integer({ min: 30_000, max: 31_400 }), fc.integer({ min: 30_000, max: 600_000 })),
    ja3: fc.constantFrom(null, 'b32309a26951912be7dba376398abc3b'),
  }),
  { minLength: 1, maxLength: 300 },
);

/** Turns generated steps into view events, `gap` ms apart. */
export function toEvents(steps: Array<{ gap: number; ip: string; viewer: number; video: number; watch: number; ja3: string | null }>): ViewEvent[] {
  let ts = T0;
  return steps.map((st) => view({ ts: (ts += st.gap), ip: st.ip, session_id: `p${st.viewer}`, video_id: `v${st.video}`, watch_ms: st.watch, ja3: st.ja3 }));
}
