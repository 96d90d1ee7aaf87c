import { gunzipSync } from 'node:zlib';
import type { Fingerprinter } from '../operators/fingerprint.ts';
import { TrackTable } from '../operators/track-table.ts';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { writeOutcomeRow, writeViewsRow, type OutcomeRow } from '../schemas/clickhouse-rows.ts';
import { CheckpointFormatError } from '../sinks/sink-errors.ts';
import type { PartitionStateParts, StateHead } from './partition-state.ts';

/**
 * Checkpoints of viewtally 0.1: a chain of gzipped JSON links (in Redis raw, in ClickHouse's
 * copies base64), keys in clear. Restoring one converts it into this version's tables: every key
 * fingerprinted as this version fingerprints it (event ids, `<viewer key>|<video>`, viewer keys,
 * IPs), dedup entries and bot tracks in the order 0.1 kept them, open windows with their viewers.
 * The next checkpoint then starts a new chain, in binary.
 */
interface LegacyKeys {
  keys: string[];
  times: number[];
  /** Present in a change: the store's size after it. */
  size?: number;
}

interface LegacyTracks {
  keys: Array<string | number>;
  lastTs: number[];
  lengths: number[];
  data: number[];
  evicted: number;
  expired: number;
  /** Present in a change: the sweep queue's new keys, how many left its front, the keys gone. */
  pushed?: Array<string | number>;
  popped?: number;
  deleted?: Array<string | number>;
}

interface LegacyPane {
  minute: number;
  views: Array<{ minute: number; video_id: string; channel_id: string; category: string; country: string; device: string; traffic_source: string; views: number; viewers: string[] }>;
  outcomes: OutcomeRow[];
}

interface LegacyLink {
  full?: boolean;
  nextOffset: number;
  maxEventTs: number | null;
  checkpoints: number;
  windows: { firedThrough: number | null; panes: LegacyPane[]; arrivals?: LegacyPane[] };
  eventIds: LegacyKeys;
  sessions: LegacyKeys;
  bots: { version: number; now: number | null; ips: LegacyTracks; viewers: LegacyTracks };
}

/** Whether a stored link is in 0.1's format: gzip, or gzip in base64 (ClickHouse's copies). */
export function isLegacyLink(link: Buffer): boolean {
  return (link.length >= 2 && link[0] === 0x1f && link[1] === 0x8b) || link.subarray(0, 4).toString('latin1') === 'H4sI';
}

function parse(link: Buffer): LegacyLink {
  const gzipped = link[0] === 0x1f ? link : Buffer.from(link.toString('latin1'), 'base64');
  return JSON.parse(gunzipSync(gzipped).toString('utf8')) as LegacyLink;
}

/** 0.1's dedup map after a snapshot and its changes: each change's keys set (moved to the newest end), then the oldest cut to its size. */
function replayKeys(links: LegacyLink[], pick: (l: LegacyLink) => LegacyKeys): Map<string, number> {
  const entries = new Map<string, number>();
  for (const link of links) {
    const d = pick(link);
    d.keys.forEach((key, i) => {
      entries.delete(key);
      entries.set(key, d.times[i]);
    });
    if (d.size !== undefined) for (const key of entries.keys()) {
      if (entries.size <= d.size) break;
      entries.delete(key);
    }
  }
  return entries;
}

/** 0.1's bot tracks after a snapshot and its changes, in its sweep order (least recently queued first). */
function replayTracks(links: LegacyLink[], pick: (l: LegacyLink) => LegacyTracks): { order: Array<string | number>; tracks: Map<string | number, { lastTs: number; data: number[] }>; last: LegacyTracks } {
  let queue: Array<string | number> = [];
  const tracks = new Map<string | number, { lastTs: number; data: number[] }>();
  for (const link of links) {
    const t = pick(link);
    queue = t.pushed === undefined ? t.keys.slice() : queue.concat(t.pushed).slice(t.popped ?? 0);
    for (const key of t.deleted ?? []) tracks.delete(key);
    let at = 0;
    t.keys.forEach((key, i) => {
      const n = 2 * t.lengths[i];
      tracks.set(key, { lastTs: t.lastTs[i], data: t.data.slice(at, at + n) });
      at += n;
    });
  }
  const seen = new Set<string | number>();
  const order = queue.filter((k) => tracks.has(k) && !seen.has(k) && seen.add(k));
  return { order, tracks, last: pick(links[links.length - 1]) };
}

/** A TrackTable section of this version holding 0.1's tracks, keys fingerprinted by `key`. */
function writeTracks(w: BinaryWriter, replayed: ReturnType<typeof replayTracks>, key: (k: string | number) => [number, number]): void {
  const table = new TrackTable(Math.max(1, replayed.order.length));
  for (const k of replayed.order) {
    const t = replayed.tracks.get(k)!;
    const ts = t.data.filter((_, i) => i % 2 === 0);
    const tags = t.data.filter((_, i) => i % 2 === 1);
    table.put(...key(k), t.lastTs, ts, tags, ts.length);
  }
  table.evicted = replayed.last.evicted;
  table.expired = replayed.last.expired;
  table.write(w, false);
}

/** Restores a chain written by 0.1 into the parts; returns its head. */
export function restoreLegacyChain(s: PartitionStateParts, chain: readonly Buffer[]): StateHead {
  const links = chain.map(parse);
  if (links[0].full === false || links.slice(1).some((l) => l.full !== false)) throw new CheckpointFormatError('a checkpoint chain of viewtally 0.1 must be one snapshot, then changes');
  const fp = s.fingerprints;
  const ofString = (k: string): [number, number] => (fp.string(k), [fp.hi, fp.lo]);
  const last = links[links.length - 1];

  for (const [store, pick] of [
    [s.eventIds, (l: LegacyLink) => l.eventIds],
    [s.sessions, (l: LegacyLink) => l.sessions],
  ] as const) {
    for (const [key, t] of replayKeys(links, pick)) store.set(...ofString(key), t);
  }

  // 0.1's per-IP tracks are left behind: an address's signals are now judged by the address stage.
  const bots = new BinaryWriter();
  bots.f64(last.bots.now ?? Number.NEGATIVE_INFINITY);
  writeTracks(bots, replayTracks(links, (l) => l.bots.viewers), (k) => ofString(String(k)));
  s.bots.read(new BinaryReader(bots.copy()), true);

  const paneRows = (p: LegacyPane) => {
    const views = new BinaryWriter();
    for (const v of p.views) {
      writeViewsRow(views, { ...v, viewers: v.viewers.map((viewer) => (fp.string(viewer), (BigInt(fp.hi) << 32n) | BigInt(fp.lo))) });
    }
    const outcomes = new BinaryWriter();
    for (const o of p.outcomes) writeOutcomeRow(outcomes, o);
    return { minute: p.minute, views: views.copy(), outcomes: outcomes.copy() };
  };
  s.windows.load(last.windows.firedThrough ?? Number.NEGATIVE_INFINITY, last.windows.panes.map(paneRows), (last.windows.arrivals ?? []).map(paneRows), fp);

  s.nextOffset = last.nextOffset;
  s.watermark.maxEventTs = last.maxEventTs ?? Number.NEGATIVE_INFINITY;
  return { full: true, nextOffset: last.nextOffset, maxEventTs: s.watermark.maxEventTs, checkpoints: last.checkpoints };
}

/** Counted views per video in the open windows of a 0.1 link (for reconcile). */
export function legacyOpenWindowViews(link: Buffer): Map<string, number> {
  const views = new Map<string, number>();
  for (const pane of parse(link).windows.panes) for (const v of pane.views) views.set(v.video_id, (views.get(v.video_id) ?? 0) + v.views);
  return views;
}
