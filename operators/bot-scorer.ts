import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import { mappedIPv4, parseIPv4, parseIPv6 } from './bot-cidr.ts';
import { BOT_SIGNALS, type BotRules, type BotSignal } from './bot-rules.ts';
import type { Fingerprinter } from './fingerprint.ts';
import { TrackTable } from './track-table.ts';
import { requiredWatchMs, type WatchRules } from './view-rules.ts';

/** What the bot rule decided for one event, with the evidence: the score and the signals that fired. */
export interface BotVerdict {
  bot: boolean;
  score: number;
  reasons: BotSignal[];
}

/** One partition's bot scorer. */
export interface BotScorer {
  /**
   * Scores a view that reached the bot rule and records it; call once per such event, in partition
   * order, with the fingerprint of its viewer key. Returns whether it is a bot; `verdict()` says why.
   */
  score(e: ViewEvent, viewerHi: number, viewerLo: number): boolean;
  /** The last scored event's verdict (allocated on demand: only bots need it). */
  verdict(): BotVerdict;
  /** Writes the whole state, or its change since the last write, and marks it. */
  write(w: BinaryWriter, changedOnly: boolean): void;
  /** Reads a whole state (`replace`), or a change onto this one. */
  read(r: BinaryReader, replace: boolean): void;
  /** Keys held (IPs plus viewer keys). */
  size(): number;
  /** Bytes of the state's arrays as allocated now. */
  memoryBytes(): number;
  /** Keys dropped by the size caps so far: a non-zero rate means the caps are too small for the traffic. */
  readonly evictions: number;
  /** Keys dropped by the TTL sweep so far. */
  readonly expirations: number;
}

export interface BotScorerOptions {
  /** Partitions of the topic: per-partition state sees about 1/partitionCount of an IP's or viewer's videos. */
  partitionCount: number;
  /** The rules in force; read on every event, so a reloaded file applies from the next event on. */
  rules: () => BotRules;
  /** The view rule's watch threshold (the job's `view`): the watch pattern looks just past it. */
  watch: WatchRules;
  /** Fingerprints of IP keys (the partition's seeded fingerprinter). */
  fingerprints: Fingerprinter;
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
// Fingerprint tags of the two kinds of IP key.
const IPV4 = 4;
const IPV6_64 = 6;
const SIGNAL_BIT = Object.fromEntries(BOT_SIGNALS.map((s, i) => [s, 1 << i])) as Record<BotSignal, number>;

/** The key of an IPv4 address in the IP table. */
export function fingerprintIPv4(fp: Fingerprinter, v4: number): void {
  fp.words(IPV4, v4 >>> 0, 0);
}

/** The key of an IPv6 /64 (its first two 32-bit words) in the IP table. */
export function fingerprintIPv6Prefix(fp: Fingerprinter, w0: number, w1: number): void {
  fp.words(IPV6_64, w0, w1);
}

/** The signals of a bit set, in BOT_SIGNALS order. */
export function signalNames(bits: number): BotSignal[] {
  return BOT_SIGNALS.filter((s) => (bits & SIGNAL_BIT[s]) !== 0);
}

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
  const fp = options.fingerprints;
  const maxEventsPerKey = options.maxEventsPerKey ?? 64;
  // checkpointed state
  const ips = new TrackTable(options.maxIpKeys ?? 200_000);
  const viewers = new TrackTable(options.maxViewerKeys ?? 500_000);
  let now = Number.NEGATIVE_INFINITY;
  // not checkpointed: derived from the rules, the last verdict, and scratch space
  let derived: Derived | null = null;
  let lastSignals = 0;
  let lastScore = 0;
  let lastBot = false;
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

  const score = (e: ViewEvent, viewerHi: number, viewerLo: number): boolean => {
    const rules = options.rules();
    if (derived === null || derived.rules !== rules) derived = derive(rules);
    const d = derived;
    const c = rules.config;
    const ts = e.ts;
    if (ts > now) now = ts;

    let ipKnown = false;
    let datacenter = false;
    let nat = false;
    let v4 = parseIPv4(e.ip);
    if (v4 < 0 && parseIPv6(e.ip, words)) {
      v4 = mappedIPv4(words);
      if (v4 < 0) {
        fingerprintIPv6Prefix(fp, words[0], words[1]);
        ipKnown = true;
        datacenter = rules.datacenter.hasV6(words);
        nat = rules.carrierNat.hasV6(words);
      }
    }
    if (v4 >= 0) {
      fingerprintIPv4(fp, v4);
      ipKnown = true;
      datacenter = rules.datacenter.hasV4(v4);
      nat = rules.carrierNat.hasV4(v4);
    }

    const required = requiredWatchMs(e.video_duration_ms, watch);
    const band = e.watch_ms >= required && e.watch_ms < required * (1 + c.watchPattern.bandRatio) ? 1 : 0;
    const patternFrom = ts - c.watchPattern.windowMs;

    let velocity = false;
    let pattern = false;
    // Carrier NAT puts a whole neighbourhood behind one address: per-IP signals would flag them all.
    if (ipKnown && !nat) {
      ips.view(ips.record(fp.hi, fp.lo, ts, band, d.capacity));
      const velocityFrom = ts - c.ipVelocity.windowMs;
      let inVelocity = 0;
      let views = 0;
      let banded = 0;
      for (let i = 0; i < ips.obsLen; i++) {
        const at = ips.obsAt(i);
        const t = ips.obsTs[at];
        if (t > ts) continue;
        if (t > velocityFrom) inVelocity++;
        if (t > patternFrom) {
          views++;
          banded += ips.obsTag[at];
        }
      }
      velocity = inVelocity > d.velocityLimit;
      pattern = views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views;
    }

    const video = videoHash(e.video_id);
    viewers.view(viewers.record(viewerHi, viewerLo, ts, video * 2 + band, d.capacity));
    const sameFrom = ts - c.replay.windowMs;
    const distinctFrom = ts - c.replay.distinctWindowMs;
    let views = 0;
    let banded = 0;
    let same = 0;
    let recent = 0;
    for (let i = 0; i < viewers.obsLen; i++) {
      const at = viewers.obsAt(i);
      const t = viewers.obsTs[at];
      if (t > ts) continue;
      const tag = viewers.obsTag[at];
      if (t > patternFrom) {
        views++;
        banded += tag & 1;
      }
      if (t > sameFrom && tag >>> 1 === video) same++;
      if (t > distinctFrom) recent++;
    }
    pattern ||= views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views;
    let replay = same > c.replay.maxSameVideoViews;
    // Distinct videos can only exceed the limit when the views do; count them only then.
    if (!replay && recent > d.distinctLimit) {
      videos.clear();
      for (let i = 0; i < viewers.obsLen; i++) {
        const at = viewers.obsAt(i);
        const t = viewers.obsTs[at];
        if (t > distinctFrom && t <= ts) videos.add(viewers.obsTag[at] >>> 1);
      }
      replay = videos.size > d.distinctLimit;
    }

    ips.expire(now, d.ipTtlMs, EXPIRE_BUDGET);
    viewers.expire(now, d.viewerTtlMs, EXPIRE_BUDGET);

    const declared = rules.declaresBot(e.user_agent);
    const ja3 = e.ja3 !== null && e.ja3 !== '' && rules.ja3Deny.has(e.ja3.toLowerCase());
    let bits = 0;
    let total = 0;
    const w = c.weights;
    if (declared) (bits |= SIGNAL_BIT.ua_bot), (total += w.ua_bot);
    if (ja3) (bits |= SIGNAL_BIT.ja3), (total += w.ja3);
    if (datacenter) (bits |= SIGNAL_BIT.datacenter_ip), (total += w.datacenter_ip);
    if (velocity) (bits |= SIGNAL_BIT.ip_velocity), (total += w.ip_velocity);
    if (pattern) (bits |= SIGNAL_BIT.watch_pattern), (total += w.watch_pattern);
    if (replay) (bits |= SIGNAL_BIT.replay_rate), (total += w.replay_rate);
    lastSignals = bits;
    lastScore = Math.round(total * 1e6) / 1e6;
    // A self-declared bot is a bot whatever the weights say.
    lastBot = declared || lastScore >= c.threshold;
    return lastBot;
  };

  return {
    score,
    verdict: () => ({ bot: lastBot, score: lastScore, reasons: signalNames(lastSignals) }),
    write: (w, changedOnly) => {
      w.f64(now);
      ips.write(w, changedOnly);
      viewers.write(w, changedOnly);
    },
    read: (r, replace) => {
      now = r.f64();
      ips.read(r, replace);
      viewers.read(r, replace);
    },
    size: () => ips.size + viewers.size,
    memoryBytes: () => ips.memoryBytes() + viewers.memoryBytes(),
    get evictions() {
      return ips.evicted + viewers.evicted;
    },
    get expirations() {
      return ips.expired + viewers.expired;
    },
  };
}

/** 31-bit FNV-1a of a video id: only compared within one viewer's recent views, where collisions are negligible. */
function videoHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 1;
}
