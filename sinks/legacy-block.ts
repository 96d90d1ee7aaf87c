import { gunzipSync } from 'node:zlib';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { writeOutcomeRow, writeRejectedRow, type OutcomeRow, type RejectedRow } from '../schemas/clickhouse-rows.ts';
import type { ClickHouseBlock } from './clickhouse-block.ts';

/** A block as viewtally 0.1 stored it: JSON (gzipped and base64 in its ClickHouse copies), viewers as key strings. */
interface LegacyBlockJson {
  token: string;
  views: Array<{ minute: number; video_id: string; channel_id: string; category: string; country: string; device: string; traffic_source: string; views: number; viewers: string[] }>;
  outcomes: OutcomeRow[];
  rejected: RejectedRow[];
}

/** Whether stored block bytes are 0.1's: JSON in Redis, gzipped JSON in base64 in ClickHouse. */
export function isLegacyBlock(bytes: Buffer): boolean {
  return bytes[0] === 0x7b || bytes.subarray(0, 4).toString('latin1') === 'H4sI';
}

/**
 * A block 0.1 left pending, as rows of the tables 0.1 wrote (its `views_minute_in`, viewers as
 * strings), under its token: if 0.1 inserted it already, ClickHouse deduplicates it, rollups included.
 */
export function legacyBlock(bytes: Buffer): ClickHouseBlock {
  const text = bytes[0] === 0x7b ? bytes.toString('utf8') : gunzipSync(Buffer.from(bytes.toString('latin1'), 'base64')).toString('utf8');
  const json = JSON.parse(text) as LegacyBlockJson;
  const views = new BinaryWriter();
  for (const v of json.views) {
    views.u32(Math.floor(v.minute / 1000));
    for (const s of [v.video_id, v.channel_id, v.category, v.country, v.device, v.traffic_source]) views.string(s);
    views.u64(v.views);
    views.varUint(v.viewers.length);
    for (const viewer of v.viewers) views.string(viewer);
  }
  const outcomes = new BinaryWriter();
  for (const o of json.outcomes) writeOutcomeRow(outcomes, o);
  const rejected = new BinaryWriter();
  for (const r of json.rejected) writeRejectedRow(rejected, r);
  return { token: json.token, views: views.copy(), viewsTable: 'views_minute_in', outcomes: outcomes.copy(), rejected: rejected.copy() };
}

/** How 0.1's pending JSON block starts. */
export function legacyPendingPrefix(token: string): Buffer {
  return Buffer.from(`{"token":${JSON.stringify(token)},`);
}
