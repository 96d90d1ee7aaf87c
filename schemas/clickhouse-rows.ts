import { BinaryReader } from './binary-reader.ts';
import type { BinaryWriter } from './binary-writer.ts';
import type { Outcome } from './view-event.ts';

/**
 * The rows the job writes to ClickHouse, in RowBinary: the tables' columns in this order, each in
 * its binary form (DateTime: UInt32 seconds; DateTime64(3): Int64 ms; String: LEB128 length and
 * UTF-8; Array(T): LEB128 count and the items). The minute windows write view and outcome rows
 * straight from their cells; these objects and functions are the same rows for everything else
 * (reconcile, tools, tests), and the tests check that both agree.
 */

/** `views_minute_rows`: counted views of one minute and one combination of dimensions. */
export const VIEWS_COLUMNS = ['minute', 'video_id', 'channel_id', 'category', 'country', 'device', 'traffic_source', 'views', 'viewers'] as const;
/** `view_outcomes_minute`: events of one minute, video and outcome. */
export const OUTCOMES_COLUMNS = ['minute', 'video_id', 'outcome', 'events'] as const;
/** `rejected_views`: one bot-rejected event. */
export const REJECTED_COLUMNS = ['ts', 'video_id', 'event_id', 'score', 'reasons', 'ip_hash', 'ip_prefix', 'user_agent'] as const;

/** A views row; `minute` in ms; `viewers` are viewer-key fingerprints, which ClickHouse turns into a unique-viewer state. */
export interface ViewsRow {
  minute: number;
  video_id: string;
  channel_id: string;
  category: string;
  country: string;
  device: string;
  traffic_source: string;
  views: number;
  viewers: bigint[];
}

/** An outcome row; `minute` in ms. */
export interface OutcomeRow {
  minute: number;
  video_id: string;
  outcome: Outcome;
  events: number;
}

/** A rejected-view row; `ts` in ms. */
export interface RejectedRow {
  ts: number;
  video_id: string;
  event_id: string;
  score: number;
  reasons: string[];
  ip_hash: string;
  ip_prefix: string;
  user_agent: string;
}

export function writeViewsRow(w: BinaryWriter, r: ViewsRow): void {
  w.u32(Math.floor(r.minute / 1000));
  w.string(r.video_id);
  w.string(r.channel_id);
  w.string(r.category);
  w.string(r.country);
  w.string(r.device);
  w.string(r.traffic_source);
  w.u64(r.views);
  w.varUint(r.viewers.length);
  for (const v of r.viewers) {
    w.u32(Number(v & 0xffffffffn));
    w.u32(Number(v >> 32n));
  }
}

export function readViewsRows(bytes: Buffer): ViewsRow[] {
  const r = new BinaryReader(bytes);
  const rows: ViewsRow[] = [];
  while (r.remaining > 0) {
    const row: ViewsRow = {
      minute: r.u32() * 1000,
      video_id: r.string(),
      channel_id: r.string(),
      category: r.string(),
      country: r.string(),
      device: r.string(),
      traffic_source: r.string(),
      views: r.u64(),
      viewers: [],
    };
    for (let n = r.varUint(); n > 0; n--) {
      const lo = r.u32();
      row.viewers.push((BigInt(r.u32()) << 32n) | BigInt(lo));
    }
    rows.push(row);
  }
  return rows;
}

export function writeOutcomeRow(w: BinaryWriter, r: OutcomeRow): void {
  w.u32(Math.floor(r.minute / 1000));
  w.string(r.video_id);
  w.string(r.outcome);
  w.u64(r.events);
}

export function readOutcomeRows(bytes: Buffer): OutcomeRow[] {
  const r = new BinaryReader(bytes);
  const rows: OutcomeRow[] = [];
  while (r.remaining > 0) rows.push({ minute: r.u32() * 1000, video_id: r.string(), outcome: r.string() as Outcome, events: r.u64() });
  return rows;
}

export function writeRejectedRow(w: BinaryWriter, r: RejectedRow): void {
  w.i64(r.ts);
  w.string(r.video_id);
  w.string(r.event_id);
  w.f32(r.score);
  w.varUint(r.reasons.length);
  for (const reason of r.reasons) w.string(reason);
  w.string(r.ip_hash);
  w.string(r.ip_prefix);
  w.string(r.user_agent);
}

export function readRejectedRows(bytes: Buffer): RejectedRow[] {
  const r = new BinaryReader(bytes);
  const rows: RejectedRow[] = [];
  while (r.remaining > 0) {
    const ts = r.i64();
    const video_id = r.string();
    const event_id = r.string();
    const score = r.f32();
    const reasons: string[] = [];
    for (let n = r.varUint(); n > 0; n--) reasons.push(r.string());
    rows.push({ ts, video_id, event_id, score, reasons, ip_hash: r.string(), ip_prefix: r.string(), user_agent: r.string() });
  }
  return rows;
}
