import type { ClickHouseClient } from '@clickhouse/client';
import { dimsKey } from '../bench/labelled-stream-truth.ts';
import { rows } from './harness.ts';

/** Counted views in `views_minute` per (minute, video, country, device, traffic source) for videos under `prefix`, keyed as the truth keys them. */
export async function minuteViews(ch: ClickHouseClient, prefix: string): Promise<Map<string, number>> {
  const got = await rows<{ minute: string; video_id: string; country: string; device: string; traffic_source: string; views: string }>(
    ch,
    `SELECT toUnixTimestamp(minute) * 1000 AS minute, video_id, country, device, traffic_source, sum(views) AS views
     FROM views_minute WHERE startsWith(video_id, {prefix:String})
     GROUP BY minute, video_id, country, device, traffic_source`,
    { prefix },
  );
  return new Map(got.map((r) => [dimsKey(Number(r.minute), r as never), Number(r.views)]));
}
