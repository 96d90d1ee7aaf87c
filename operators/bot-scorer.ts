import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import { mappedIPv4, parseIPv4, parseIPv6 } from '../schemas/ip-address.ts';
import { BOT_SIGNALS, type BotRules, type BotSignal } from './bot-rules.ts';
import type { Fingerprinter } from './fingerprint.ts';
import { TrackTable } from './track-table.ts';
import { requiredWatchMs, type WatchRules } from './view-rules.ts';
import { ADDRESS_JUDGED } from './view-record.ts';
import { RECORD_BAND, RECORD_DATACENTER } from '../schemas/address-messages.ts';

/** What the bot rule decided for one event, with the evidence: the score and the signals that fired. */
export interface BotVerdict {
  bot: boolean;
  score: number;
  reasons: BotSignal[];
}

/** One partition's bot scorer: the signals of one event and of its viewer key, decided where the event is. */
export interface BotScorer {
  /**
   * Scores a view that reached the bot rule and records it; call once per such event, in partition
   * order, with the fingerprint of its viewer key. Returns whether it is a bot; `verdict()` says why.
   * Also sets `addressHi`/`addressLo`/`addressFlags`: the event's address key for the address stage.
   */
  score(e: ViewEvent, viewerHi: number, viewerLo: number): boolean;
  /** The last scored event's verdict (allocated on demand: only bots need it). */
  verdict(): BotVerdict;
  /** The last scored event's address key (a keyed hash of the IPv4 address or the IPv6 /64). */
  readonly addressHi: number;
  readonly addressLo: number;
  /** ADDRESS_JUDGED when the address stage judges its address (parsed, not carrier NAT), plus RECORD_BAND and RECORD_DATACENTER. */
  readonly addressFlags: number;
  /** Writes the whole state, or its change since the last write, and marks it. */
  write(w: BinaryWriter, changedOnly: boolean): void;
  /** Reads a whole state (`replace`), or a change onto this one. */
  read(r: BinaryReader, replace: boolean): void;
  /** Viewer keys held. */
  size(): number;
  /** Bytes of the state's arrays as allocated now. */
  memoryBytes(): number;
  /** Keys dropped by the size cap so far: a non-zero rate means the cap is too small for the traffic. */
  readonly evictions: number;
  /** Keys dropped by the TTL sweep so far. */
  readonly expirations: number;
}

export interface BotScorerOptions {
  /** The rules in force; read on every event, so a reloaded file applies from the next event on. */
  rules: () => BotRules;
  /** The view rule's watch threshold (the job's `view`): the watch pattern looks just past it. */
  watch: WatchRules;
  /** Keys of addresses: fingerprints under a seed derived from the IP hash secret (see pipeline/ip-privacy.ts). */
  addressKeys: Fingerprinter;
  /** Size cap of the viewer-key table per partition; the least recently seen key is evicted beyond it. */
  maxViewerKeys?: number;
  /** Observations kept per key (raised automatically above every count limit). */
  maxEventsPerKey?: number;
}

/** Limits derived from one rules object. */
interface Derived {
  rules: BotRules;
  capacity: number;
  viewerTtlMs: number;
}

// Each event adds at most one key; two sweep steps per event keep pace (the size cap bounds the rest).
const EXPIRE_BUDGET = 2;
// Fingerprint tags of the two kinds of address key.
const IPV4 = 4;
const IPV6_64 = 6;
/** Each signal's bit in a verdict's signal set. */
export const SIGNAL_BIT = Object.fromEntries(BOT_SIGNALS.map((s, i) => [s, 1 << i])) as Record<BotSignal, number>;

/** The key of an IPv4 address. */
export function fingerprintIPv4(fp: Fingerprinter, v4: number): void {
  fp.words(IPV4, v4 >>> 0, 0);
}

/** The key of an IPv6 /64 (its first two 32-bit words): one host rotates addresses inside it. */
export function fingerprintIPv6Prefix(fp: Fingerprinter, w0: number, w1: number): void {
  fp.words(IPV6_64, w0, w1);
}

/** The signals of a bit set, in BOT_SIGNALS order. */
export function signalNames(bits: number): BotSignal[] {
  return BOT_SIGNALS.filter((s) => (bits & SIGNAL_BIT[s]) !== 0);
}

/**
 * Creates one partition's bot scorer: the signals an event carries itself (a declared bot user
 * agent, a denied ja3, a datacenter address) and those of its viewer key — replays of one video (all
 * in this partition, since the topic is keyed by viewer key and video), distinct videos and the
 * watch-time pattern (this partition's share of the viewer's views, against the whole-stream limits:
 * it can only under-count). The address's own signals (velocity, distinct videos and the watch pattern
 * across viewers) need all of its views and are judged by the address stage (address-scorer.ts); the
 * scorer gives each event its address key for that. Carrier-NAT addresses are not judged there.
 */
export function createBotScorer(options: BotScorerOptions): BotScorer {
  // configuration
  const watch = options.watch;
  const keys = options.addressKeys;
  const maxEventsPerKey = options.maxEventsPerKey ?? 64;
  // checkpointed state
  const viewers = new TrackTable(options.maxViewerKeys ?? 500_000);
  let now = Number.NEGATIVE_INFINITY;
  // not checkpointed: derived from the rules, the last verdict and address, and scratch space
  let derived: Derived | null = null;
  let lastSignals = 0;
  let lastScore = 0;
  let lastBot = false;
  const address = { hi: 0, lo: 0, flags: 0 };
  const words = new Uint32Array(4);
  const videos = new Set<number>();

  const derive = (rules: BotRules): Derived => {
    const c = rules.config;
    const capacity = Math.max(maxEventsPerKey, c.replay.maxDistinctVideos + 1, c.replay.maxSameVideoViews + 1, c.watchPattern.minViews);
    const viewerTtlMs = Math.max(c.watchPattern.windowMs, c.replay.windowMs, c.replay.distinctWindowMs);
    return { rules, capacity, viewerTtlMs };
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
        fingerprintIPv6Prefix(keys, words[0], words[1]);
        ipKnown = true;
        datacenter = rules.datacenter.hasV6(words);
        nat = rules.carrierNat.hasV6(words);
      }
    }
    if (v4 >= 0) {
      fingerprintIPv4(keys, v4);
      ipKnown = true;
      datacenter = rules.datacenter.hasV4(v4);
      nat = rules.carrierNat.hasV4(v4);
    }

    const required = requiredWatchMs(e.video_duration_ms, watch);
    const band = e.watch_ms >= required && e.watch_ms < required * (1 + c.watchPattern.bandRatio) ? 1 : 0;
    // Carrier NAT puts a whole neighbourhood behind one address: its address signals would flag them all.
    address.hi = keys.hi;
    address.lo = keys.lo;
    address.flags = ipKnown && !nat ? ADDRESS_JUDGED | (band ? RECORD_BAND : 0) | (datacenter ? RECORD_DATACENTER : 0) : 0;

    const patternFrom = ts - c.watchPattern.windowMs;
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
    const pattern = views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views;
    let replay = same > c.replay.maxSameVideoViews;
    // Distinct videos can only exceed the limit when the views do; count them only then.
    if (!replay && recent > c.replay.maxDistinctVideos) {
      videos.clear();
      for (let i = 0; i < viewers.obsLen; i++) {
        const at = viewers.obsAt(i);
        const t = viewers.obsTs[at];
        if (t > distinctFrom && t <= ts) videos.add(viewers.obsTag[at] >>> 1);
      }
      replay = videos.size > c.replay.maxDistinctVideos;
    }

    viewers.expire(now, d.viewerTtlMs, EXPIRE_BUDGET);

    const declared = rules.declaresBot(e.user_agent);
    const ja3 = e.ja3 !== null && e.ja3 !== '' && rules.ja3Deny.has(e.ja3.toLowerCase());
    let bits = 0;
    let total = 0;
    const w = c.weights;
    if (declared) (bits |= SIGNAL_BIT.ua_bot), (total += w.ua_bot);
    if (ja3) (bits |= SIGNAL_BIT.ja3), (total += w.ja3);
    if (datacenter) (bits |= SIGNAL_BIT.datacenter_ip), (total += w.datacenter_ip);
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
    get addressHi() {
      return address.hi;
    },
    get addressLo() {
      return address.lo;
    },
    get addressFlags() {
      return address.flags;
    },
    write: (w, changedOnly) => {
      w.f64(now);
      viewers.write(w, changedOnly);
    },
    read: (r, replace) => {
      now = r.f64();
      viewers.read(r, replace);
    },
    size: () => viewers.size,
    memoryBytes: () => viewers.memoryBytes(),
    get evictions() {
      return viewers.evicted;
    },
    get expirations() {
      return viewers.expired;
    },
  };
}

/** 31-bit FNV-1a of a video id: only compared within one viewer's recent views, where collisions are negligible. */
function videoHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 1;
}
