import type { ViewEvent } from '../schemas/view-event.ts';
import { mappedIPv4, parseIPv4, parseIPv6 } from './bot-cidr.ts';
import type { BotRules, BotSignal } from './bot-rules.ts';
import { requiredWatchMs, type WatchRules } from './view-rules.ts';
import { TrackTable, type TrackTableDelta, type TrackTableState } from './bot-track-table.ts';

/** What the bot rule decided for one event, with the evidence: the score and the signals that fired. */
export interface BotVerdict {
  bot: boolean;
  score: number;
  reasons: BotSignal[];
}

/** A partition's bot-scoring state as plain JSON, for the checkpoint. */
export interface BotScorerState {
  version: 1;
  /** Latest event time seen (drives the TTL), null before the first event. */
  now: number | null;
  ips: TrackTableState;
  viewers: TrackTableState;
}

/** The change of a partition's bot-scoring state since the last snapshot or delta. */
export interface BotScorerDelta {
  version: 1;
  now: number | null;
  ips: TrackTableDelta;
  viewers: TrackTableDelta;
}

/** One partition's bot scorer. */
export interface BotScorer {
  /** Scores a view that reached the bot rule and records it; call once per such event, in partition order. */
  score(e: ViewEvent, viewerKey: string): BotVerdict;
  snapshot(): BotScorerState;
  /** The change since the last snapshot or delta (after a snapshot or restore). */
  delta(): BotScorerDelta;
  /** Restores a snapshot and the deltas taken after it, in order. */
  restore(s: BotScorerState, deltas?: readonly BotScorerDelta[]): void;
  /** Keys held (IPs plus viewer keys). */
  size(): number;
  /** Keys dropped by the size caps so far: a non-zero rate means the caps are too small for the traffic. */
  readonly evictions: number;
}

export interface BotScorerOptions {
  /** Partitions of the topic: per-partition state sees about 1/partitionCount of an IP's or viewer's videos. */
  partitionCount: number;
  /** The rules in force; read on every event, so a reloaded file applies from the next event on. */
  rules: () => BotRules;
  /** The view rule's watch threshold (the job's `view`): the watch pattern looks just past it. */
  watch: WatchRules;
  /** Size caps per partition; the least recently seen key is evicted beyond them. */
  maxIpKeys?: number;
  maxViewerKeys?: number;
  /** Observations kept per key (raised automatically above every count limit). */
  maxEventsPerKey?: number;
}

/** Limits derived from one rules object and the partition count. */
interface Derived {
  rules: BotRules;
  velocityLimit: number;
  distinctLimit: number;
  capacity: number;
  ipTtlMs: number;
  viewerTtlMs: number;
}

// Each event adds at most one key per table; two sweep steps per event keep pace (the size caps bound the rest).
const EXPIRE_BUDGET = 2;

/**
 * Creates one partition's bot scorer. Observations recorded for every scored event: per IP (IPv6:
 * per /64, since one host rotates addresses inside it; carrier-NAT IPs are not tracked) its event
 * time and whether the watch time stopped just past the threshold; per viewer key the same plus a
 * hash of the video. Windows are true sliding windows over those event times.
 */
export function createBotScorer(options: BotScorerOptions): BotScorer {
  // configuration
  const partitions = options.partitionCount;
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitionCount must be a positive integer, got ${partitions}`);
  const watch = options.watch;
  const maxEventsPerKey = options.maxEventsPerKey ?? 64;
  // checkpointed state
  const ips = new TrackTable<number | string>(options.maxIpKeys ?? 200_000);
  const viewers = new TrackTable<string>(options.maxViewerKeys ?? 500_000);
  let now = Number.NEGATIVE_INFINITY;
  // not checkpointed: derived from the rules, and scratch space
  let derived: Derived | null = null;
  const words = new Uint32Array(4);
  const videos = new Set<number>();

  const derive = (rules: BotRules): Derived => {
    const c = rules.config;
    // The topic is keyed by (viewer key, video), so one IP's events, and one viewer's different
    // videos, spread evenly over all partitions: each partition sees ~1/partitionCount of them and
    // compares its share with the whole-topic limit scaled down by the partition count.
    const velocityLimit = Math.ceil(c.ipVelocity.maxViews / partitions);
    const distinctLimit = Math.ceil(c.replay.maxDistinctVideos / partitions);
    const capacity = Math.max(maxEventsPerKey, velocityLimit + 1, distinctLimit + 1, c.replay.maxSameVideoViews + 1, c.watchPattern.minViews);
    const ipTtlMs = Math.max(c.ipVelocity.windowMs, c.watchPattern.windowMs);
    const viewerTtlMs = Math.max(c.watchPattern.windowMs, c.replay.windowMs, c.replay.distinctWindowMs);
    return { rules, velocityLimit, distinctLimit, capacity, ipTtlMs, viewerTtlMs };
  };

  const score = (e: ViewEvent, viewerKey: string): BotVerdict => {
    const rules = options.rules();
    if (derived === null || derived.rules !== rules) derived = derive(rules);
    const d = derived;
    const c = rules.config;
    const ts = e.ts;
    if (ts > now) now = ts;

    let ipKey: number | string | null = null;
    let datacenter = false;
    let nat = false;
    let v4 = parseIPv4(e.ip);
    if (v4 < 0 && parseIPv6(e.ip, words)) {
      v4 = mappedIPv4(words);
      if (v4 < 0) {
        ipKey = `${(words[0] >>> 16).toString(16)}:${(words[0] & 0xffff).toString(16)}:${(words[1] >>> 16).toString(16)}:${(words[1] & 0xffff).toString(16)}::/64`;
        datacenter = rules.datacenter.hasV6(words);
        nat = rules.carrierNat.hasV6(words);
      }
    }
    if (v4 >= 0) {
      // As an int32 the key stays an unboxed small integer in the map.
      ipKey = v4 | 0;
      datacenter = rules.datacenter.hasV4(v4);
      nat = rules.carrierNat.hasV4(v4);
    }

    const required = requiredWatchMs(e.video_duration_ms, watch);
    const band = e.watch_ms >= required && e.watch_ms < required * (1 + c.watchPattern.bandRatio) ? 1 : 0;
    const patternFrom = ts - c.watchPattern.windowMs;

    let velocity = false;
    let pattern = false;
    // Carrier NAT puts a whole neighbourhood behind one address: per-IP signals would flag them all.
    if (ipKey !== null && !nat) {
      const data = ips.record(ipKey, ts, band, d.capacity).data;
      const velocityFrom = ts - c.ipVelocity.windowMs;
      let inVelocity = 0;
      let views = 0;
      let banded = 0;
      for (let i = 0; i < data.length; i += 2) {
        const t = data[i];
        if (t > ts) continue;
        if (t > velocityFrom) inVelocity++;
        if (t > patternFrom) {
          views++;
          banded += data[i + 1];
        }
      }
      velocity = inVelocity > d.velocityLimit;
      pattern = views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views;
    }

    const video = videoHash(e.video_id);
    const data = viewers.record(viewerKey, ts, video * 2 + band, d.capacity).data;
    const sameFrom = ts - c.replay.windowMs;
    const distinctFrom = ts - c.replay.distinctWindowMs;
    let views = 0;
    let banded = 0;
    let same = 0;
    let recent = 0;
    for (let i = 0; i < data.length; i += 2) {
      const t = data[i];
      if (t > ts) continue;
      const tag = data[i + 1];
      if (t > patternFrom) {
        views++;
        banded += tag % 2;
      }
      if (t > sameFrom && Math.floor(tag / 2) === video) same++;
      if (t > distinctFrom) recent++;
    }
    pattern ||= views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views;
    let replay = same > c.replay.maxSameVideoViews;
    // Distinct videos can only exceed the limit when the views do; count them only then.
    if (!replay && recent > d.distinctLimit) {
      videos.clear();
      for (let i = 0; i < data.length; i += 2) {
        const t = data[i];
        if (t > distinctFrom && t <= ts) videos.add(Math.floor(data[i + 1] / 2));
      }
      replay = videos.size > d.distinctLimit;
    }

    ips.expire(now, d.ipTtlMs, EXPIRE_BUDGET);
    viewers.expire(now, d.viewerTtlMs, EXPIRE_BUDGET);

    const declared = rules.declaresBot(e.user_agent);
    const ja3 = e.ja3 !== null && e.ja3 !== '' && rules.ja3Deny.has(e.ja3.toLowerCase());
    // Reasons are listed in BOT_SIGNALS order.
    const reasons: BotSignal[] = [];
    let total = 0;
    const fire = (signal: BotSignal) => {
      reasons.push(signal);
      total += c.weights[signal];
    };
    if (declared) fire('ua_bot');
    if (ja3) fire('ja3');
    if (datacenter) fire('datacenter_ip');
    if (velocity) fire('ip_velocity');
    if (pattern) fire('watch_pattern');
    if (replay) fire('replay_rate');
    total = Math.round(total * 1e6) / 1e6;
    // A self-declared bot is a bot whatever the weights say.
    return { bot: declared || total >= c.threshold, score: total, reasons };
  };

  return {
    score,
    snapshot: () => ({ version: 1, now: Number.isFinite(now) ? now : null, ips: ips.snapshot(), viewers: viewers.snapshot() }),
    delta: () => ({ version: 1, now: Number.isFinite(now) ? now : null, ips: ips.delta(), viewers: viewers.delta() }),
    restore: (s: BotScorerState, deltas: readonly BotScorerDelta[] = []) => {
      for (const x of [s, ...deltas]) if (x.version !== 1) throw new RangeError(`bot state: unknown snapshot version ${String(x.version)}`);
      now = (deltas.at(-1) ?? s).now ?? Number.NEGATIVE_INFINITY;
      ips.restore(s.ips, deltas.map((d) => d.ips));
      viewers.restore(s.viewers, deltas.map((d) => d.viewers));
    },
    size: () => ips.size + viewers.size,
    get evictions() {
      return ips.evicted + viewers.evicted;
    },
  };
}

/** 31-bit FNV-1a of a video id: only compared within one viewer's recent views, where collisions are negligible. */
function videoHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 1;
}
