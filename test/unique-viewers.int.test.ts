import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { LiveCounts } from '../operators/live-counts.ts';
import { rawRecord } from '../operators/view-record.ts';
import { RedisSink, progressKey } from '../sinks/redis-sink.ts';
import { ClickHouseSink } from '../sinks/clickhouse-sink.ts';
import type { ViewsRow } from '../operators/minute-pane.ts';
import { testEvent } from '../operators/test-records.ts';
import { clickhouse, redis, rows, uniqueName } from './harness.ts';

const VIEWERS = 1_000_000;
const BATCH = 50_000;
const MINUTE = 60_000;

// One video, a million distinct viewers, written through the sinks the job uses: the Redis
// HyperLogLog and the ClickHouse uniqCombined(15) states (merged over minutes, hours and days)
// both land within 2 % of the truth.
describe('unique viewers of a video with 1 000 000 distinct viewers', () => {
  const video = uniqueName('uniq');
  const base = Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE - 3 * 60 * MINUTE;
  let ch: ClickHouseClient;
  let rd: Redis;

  beforeAll(async () => {
    ch = await clickhouse();
    rd = redis();
    const sink = new RedisSink(rd);
    const key = progressKey(video, video, 0);
    const { epoch } = await sink.claim(key, `${key}:lock`);
    const clickhouseSink = new ClickHouseSink(ch);
    const event = testEvent({ video_id: video });
    for (let from = 0; from < VIEWERS; from += BATCH) {
      const live = new LiveCounts();
      const views: ViewsRow[] = [];
      for (let i = from; i < from + BATCH; i++) {
        const r = rawRecord(i, 0, null);
        r.event = event;
        r.viewerKey = `v:viewer-${i}`;
        live.add(r);
      }
      // each batch spreads over 10 minutes, with every viewer also seen again in a later minute
      for (let m = 0; m < 10; m++) {
        const viewers = live.videos.get(video)!.viewers.filter((_, i) => i % 10 === m);
        const again = viewers.slice(0, 100);
        views.push({ minute: base + (from / BATCH) * 10 * MINUTE + m * MINUTE, video_id: video, channel_id: 'c', category: 'x', country: 'DE', device: 'mobile', traffic_source: 'search', views: viewers.length + again.length, viewers: [...viewers, ...again] });
      }
      await sink.commit(key, epoch, from + BATCH, live);
      const token = `${video}/${from}`;
      await clickhouseSink.write({ token, views, outcomes: [], rejected: [] }, { group_id: video, topic: video, partition: 0, offset: from + BATCH, token, full: 1, state: '', block: '' });
    }
  });

  afterAll(async () => {
    await ch?.close();
    rd?.disconnect();
  });

  it('Redis HyperLogLog is within 2 %', async () => {
    const estimate = await rd.pfcount(`vt:uniq:${video}`);
    console.log(`unique viewers: Redis HLL ${estimate} (${(((estimate - VIEWERS) / VIEWERS) * 100).toFixed(2)} %)`);
    expect(Math.abs(estimate - VIEWERS) / VIEWERS).toBeLessThan(0.02);
  });

  it('ClickHouse states merged at every granularity are within 2 %', async () => {
    for (const table of ['views_minute', 'views_hour', 'views_day']) {
      const [r] = await rows<{ u: string }>(ch, `SELECT uniqCombinedMerge(15)(unique_viewers) AS u FROM ${table} WHERE video_id = {v:String}`, { v: video });
      const estimate = Number(r.u);
      console.log(`unique viewers: ${table} ${estimate} (${(((estimate - VIEWERS) / VIEWERS) * 100).toFixed(2)} %)`);
      expect(Math.abs(estimate - VIEWERS) / VIEWERS).toBeLessThan(0.02);
    }
  });
});
