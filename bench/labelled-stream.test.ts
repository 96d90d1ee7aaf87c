import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import { OUTCOMES, type Outcome } from '../schemas/view-event.ts';
import { kafkaKey, viewerKey } from '../schemas/viewer-key.ts';
import { CGNAT_IP, DEFAULT_MIX, generateLabelledStream, POPULATIONS, requiredWatchMs, truthOf, videoMeta, type LabelledEvent } from './labelled-stream.ts';
import { dimsKey, minuteOf } from './labelled-stream-truth.ts';

const MINUTE = 60_000;
const SESSION_MS = 30 * MINUTE;
const RULES = { minWatchMs: 30_000, minWatchFraction: 0.5, sessionWindowMs: SESSION_MS };

function digest(items: Iterable<LabelledEvent>): string {
  const h = createHash('sha256');
  for (const item of items) h.update(JSON.stringify(item));
  return h.digest('hex');
}

describe('labelled stream', () => {
  const stream = generateLabelledStream({ seed: 11, events: 200_000 });
  const items = stream.toArray();
  const { startMs, minutes } = stream.options;

  it('is deterministic for a seed, and differs between seeds', () => {
    const a = generateLabelledStream({ seed: 5, events: 10_000 });
    expect(digest(a.events())).toBe(digest(generateLabelledStream({ seed: 5, events: 10_000 }).events()));
    expect(digest(a.events())).toBe(digest(a.toArray()));
    expect(digest(a.events())).not.toBe(digest(generateLabelledStream({ seed: 6, events: 10_000 }).events()));
  });

  it('has exactly the events asked for, in event-time order, inside the span', () => {
    expect(items).toHaveLength(200_000);
    const end = startMs + minutes * MINUTE;
    let last = -Infinity;
    const wrong: string[] = [];
    for (const { event: e } of items) {
      if (e.ts < last) wrong.push(`${e.event_id}: ts ${e.ts} after ${last}`);
      if (!Number.isInteger(e.ts) || !Number.isInteger(e.watch_ms)) wrong.push(`${e.event_id}: not integer`);
      last = e.ts;
    }
    expect(wrong).toEqual([]);
    expect(items[0].event.ts).toBeGreaterThanOrEqual(startMs);
    expect(last).toBeLessThan(end);
    // Provisioning leaves at most the last few minutes thin.
    expect(last).toBeGreaterThan(end - 5 * MINUTE);
  });

  it('mixes populations in the configured proportions', () => {
    const truth = truthOf(items);
    const share = (p: (typeof POPULATIONS)[number]) => truth.populations[p] / items.length;
    for (const p of POPULATIONS) {
      // Humans come in thousands of small actors; bot kinds in a few large ones, so they vary more.
      const tolerance = p.startsWith('bot_') ? 0.5 : 0.2;
      expect(Math.abs(share(p) - DEFAULT_MIX[p]) / DEFAULT_MIX[p], p).toBeLessThan(tolerance);
    }
    const bots = POPULATIONS.filter((p) => p.startsWith('bot_')).reduce((s, p) => s + share(p), 0);
    expect(bots).toBeGreaterThan(0.08);
    expect(bots).toBeLessThan(0.12);
    // Every outcome the stream can produce occurs, and counted views lead among views.
    for (const o of ['counted', 'duplicate', 'bot', 'too_short', 'not_a_view', 'owner'] as Outcome[]) expect(truth.outcomes[o], o).toBeGreaterThan(300);
    expect(truth.outcomes.invalid + truth.outcomes.too_late).toBe(0);
    expect(truth.outcomes.counted).toBeGreaterThan(truth.outcomes.too_short + truth.outcomes.duplicate);
    console.log(`labelled stream outcomes: ${OUTCOMES.map((o) => `${o} ${truth.outcomes[o]}`).join(', ')}`);
  });

  it('labels follow the pipeline rule order exactly, recomputed independently with global state', () => {
    const seenIds = new Set<string>();
    const lastCounted = new Map<string, number>();
    const wrong: string[] = [];
    for (const item of items) {
      const e = item.event;
      let outcome: Outcome;
      if (e.event_type !== 'view') outcome = 'not_a_view';
      else if (seenIds.has(e.event_id)) outcome = 'duplicate';
      else {
        seenIds.add(e.event_id);
        const pair = `${viewerKey(e)}|${e.video_id}`;
        const last = lastCounted.get(pair);
        if (e.owner_id !== null && e.owner_id === e.viewer_id) outcome = 'owner';
        else if (e.watch_ms < requiredWatchMs(e.video_duration_ms, RULES)) outcome = 'too_short';
        else if (item.population.startsWith('bot_')) outcome = 'bot';
        else if (last !== undefined && e.ts - last < SESSION_MS) outcome = 'duplicate';
        else {
          lastCounted.set(pair, e.ts);
          outcome = 'counted';
        }
      }
      if (item.expected !== outcome) wrong.push(`${e.event_id} (${item.population}): labelled ${item.expected}, rules say ${outcome}`);
    }
    expect(wrong).toEqual([]);
  });

  it('labels are self-consistent: retries repeat an earlier event, refreshes follow a recent counted view', () => {
    const byId = new Map<string, LabelledEvent>();
    const counted = new Map<string, number>();
    const pairTs = new Map<string, number>();
    let retries = 0;
    let refreshes = 0;
    const wrong: string[] = [];
    for (const item of items) {
      const e = item.event;
      const earlier = byId.get(e.event_id);
      if (earlier !== undefined) {
        retries++;
        if (JSON.stringify(e) !== JSON.stringify(earlier.event)) wrong.push(`${e.event_id}: a retry with a different payload`);
        if (item.expected !== (e.event_type === 'view' ? 'duplicate' : 'not_a_view')) wrong.push(`${e.event_id}: a retry labelled ${item.expected}`);
      } else {
        byId.set(e.event_id, item);
      }
      const pair = kafkaKey(e);
      // One (viewer key, video) pair's events come in non-decreasing event time: the session rule depends on it.
      if (e.ts < (pairTs.get(pair) ?? -Infinity)) wrong.push(`${e.event_id}: goes back in time within its pair`);
      pairTs.set(pair, e.ts);
      if (item.expected === 'duplicate' && earlier === undefined) {
        refreshes++;
        const last = counted.get(pair);
        if (last === undefined || e.ts - last >= SESSION_MS) wrong.push(`${e.event_id}: a session duplicate without a counted view in the last 30 min`);
      }
      if (item.expected === 'counted') counted.set(pair, e.ts);
      if (item.expected === 'owner' && e.viewer_id !== e.owner_id) wrong.push(`${e.event_id}: owner label on someone else's video`);
      if (item.expected === 'too_short' && e.watch_ms >= requiredWatchMs(e.video_duration_ms, RULES)) wrong.push(`${e.event_id}: too_short label on a long enough watch`);
    }
    expect(wrong).toEqual([]);
    expect(retries).toBeGreaterThan(500);
    expect(refreshes).toBeGreaterThan(500);
    // Short videos, where half the duration is the bar, are in the mix, counted and too short.
    const short = items.filter((i) => i.event.event_type === 'view' && i.event.video_duration_ms !== null && i.event.video_duration_ms < 60_000);
    expect(short.filter((i) => i.expected === 'counted' && i.event.watch_ms < 30_000).length).toBeGreaterThan(100);
    expect(short.filter((i) => i.expected === 'too_short').length).toBeGreaterThan(100);
  });

  it('draws addresses, user agents and fingerprints consistent with the default bot rules', () => {
    const rules = loadBotRules();
    const natIps = new Set<string>();
    const cgnatIps = new Set<string>();
    const wrong = new Set<string>();
    for (const { event: e, population: p } of items) {
      const dc = rules.datacenter.has(e.ip);
      const nat = rules.carrierNat.has(e.ip);
      if (p === 'human_nat') natIps.add(e.ip);
      if (p === 'human_cgnat') cgnatIps.add(e.ip);
      if (p === 'human_nat' || p === 'human_cgnat' ? !nat : p === 'human_vpn' || p === 'bot_datacenter' ? !dc : p !== 'bot_declared' && (dc || nat)) wrong.add(`${p}: address ${e.ip}`);
      if (rules.declaresBot(e.user_agent) !== (p === 'bot_declared')) wrong.add(`${p}: user agent ${e.user_agent}`);
      if ((e.ja3 !== null && rules.ja3Deny.has(e.ja3)) !== (p === 'bot_ja3')) wrong.add(`${p}: ja3 ${e.ja3}`);
    }
    expect([...wrong]).toEqual([]);
    // Few exits, many people: each NAT exit carries far more views than the per-IP velocity limit.
    expect(natIps.size).toBe(stream.options.natIps);
    expect([...natIps].some((ip) => ip.includes(':'))).toBe(true);
    // One carrier-NAT exit of its own, apart from the NAT population's.
    expect([...cgnatIps]).toEqual([CGNAT_IP]);
    expect(natIps.has(CGNAT_IP)).toBe(false);
  });

  it('has view farms: five residential addresses at ~70 views a minute each, three videos, a fresh session per view, no viewer id', () => {
    const farm = items.filter((i) => i.population === 'bot_farm');
    expect(farm.length).toBeGreaterThan(1_000);
    expect(farm.every((i) => i.event.event_type === 'view' && i.event.viewer_id === null && i.expected === 'bot')).toBe(true);
    expect(new Set(farm.map((i) => i.event.session_id)).size).toBe(farm.length);
    const byIp = new Map<string, LabelledEvent[]>();
    for (const i of farm) byIp.set(i.event.ip, [...(byIp.get(i.event.ip) ?? []), i]);
    expect(byIp.size).toBeGreaterThanOrEqual(3);
    for (const views of byIp.values()) {
      const minutes = (views[views.length - 1].event.ts - views[0].event.ts) / MINUTE;
      if (minutes > 5) expect(views.length / minutes).toBeGreaterThan(50);
      expect(views.length / Math.max(minutes, 1)).toBeLessThan(100);
    }
    const videos = new Set(farm.map((i) => i.event.video_id));
    expect(videos.size).toBeLessThanOrEqual(3 * Math.ceil(byIp.size / 5));
  });

  it('has thousands of signed-in people behind one carrier-NAT address, at far more views than the per-address velocity limit', () => {
    const cgnat = items.filter((i) => i.population === 'human_cgnat');
    expect(new Set(cgnat.map((i) => i.event.viewer_id)).size).toBeGreaterThan(1_000);
    expect(cgnat.every((i) => i.event.viewer_id !== null)).toBe(true);
    const views = cgnat.filter((i) => i.event.event_type === 'view').length;
    // the limit is per its window (whole minutes): compare the address's views over one such window
    const { windowMs, maxViews } = loadBotRules().config.ipVelocity;
    expect((views / minutes) * (windowMs / MINUTE)).toBeGreaterThan(maxViews);
  });

  it('folds into the truth the sinks must match', () => {
    const t = truthOf(items);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    expect(t.events).toBe(items.length);
    expect(sum(t.countedByVideo)).toBe(t.outcomes.counted);
    expect(sum(t.countedByMinuteDims)).toBe(t.outcomes.counted);
    expect(sum(t.outcomesByMinute)).toBe(items.length);
    for (const [video, uniques] of t.uniqueViewersByVideo) expect(uniques).toBeLessThanOrEqual(t.countedByVideo.get(video)!);
    const first = items.find((i) => i.expected === 'counted')!.event;
    expect(t.countedByMinuteDims.get(dimsKey(minuteOf(first.ts), first))).toBeGreaterThanOrEqual(1);
    expect(minuteOf(first.ts) % MINUTE).toBe(0);
  });

  it('derives channel, category, owner and duration from the video id alone, with Zipf popularity', () => {
    expect(videoMeta('v123', 4000)).toEqual(videoMeta('v123', 4000));
    const t = truthOf(items);
    const views = [...t.countedByVideo.values()].sort((a, b) => b - a);
    expect(views[0]).toBeGreaterThan(50 * views[Math.floor(views.length / 2)]);
    for (const { event: e } of items.slice(0, 1000)) {
      const m = videoMeta(e.video_id, stream.options.channels);
      expect([e.channel_id, e.category, e.owner_id, e.video_duration_ms]).toEqual([m.channel_id, m.category, m.owner_id, m.video_duration_ms]);
    }
  });

  it('streams a million-video catalogue quickly', () => {
    const big = generateLabelledStream({ seed: 3, events: 100_000, videos: 1_000_000 });
    const started = performance.now();
    let n = 0;
    let maxVideo = 0;
    for (const { event } of big.events()) {
      n++;
      maxVideo = Math.max(maxVideo, Number(event.video_id.slice(1)));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`labelled stream: ${n} events from a 1 000 000-video catalogue in ${seconds.toFixed(2)} s (${Math.round(n / seconds)} events/s)`);
    expect(n).toBe(100_000);
    expect(maxVideo).toBeGreaterThan(100_000);
  });
});
