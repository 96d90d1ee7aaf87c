import { beforeAll, describe, expect, it } from 'vitest';
import { LiveCounts } from '../operators/live-counts.ts';
import { RedisSink } from '../sinks/redis-sink.ts';
import { createLiveCounterReader, progressKey, recordShards } from '../sinks/live-counters.ts';
import { ClickHouseSink } from '../sinks/clickhouse-sink.ts';
import { checkpointCopy } from '../sinks/checkpoint-copies.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { writeViewsRow } from '../schemas/clickhouse-rows.ts';
import { fingerprintOf } from '../operators/test-records.ts';
import { rows, sinkClients, uniqueName } from './harness.ts';

const VIEWERS = 1_000_000;
const BATCH = 50_000;
const MINUTE = 60_000;

// One video, a million distinct viewers, written through the sinks the job uses: the Redis
// HyperLogLog and the ClickHouse uniqCombined(15) states (merged over minutes, hours and days)
// both land within 2 % of the truth.
describe('unique viewers of a video with 1 000 000 distinct viewers', () => {
  const video = uniqueName('uniq');
  const base = Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE - 3 * 60 * MINUTE;
  const sinks = sinkClients();

  beforeAll(async () => {
    const sink = new RedisSink(sinks.rd);
    const key = progressKey(video, video, 0);
    await recordShards(sinks.rd, { group: video, topic: video }, 1);
    const { epoch } = await sink.claim(key, `${key}:lock`);
    const clickhouseSink = new ClickHouseSink(sinks.ch);
    const videoFp = fingerprintOf(video);
    const [videoHi, videoLo] = [Number(videoFp >> 32n), Number(videoFp & 0xffffffffn)];
    for (let from = 0; from < VIEWERS; from += BATCH) {
      const live = new LiveCounts();
      const viewers: bigint[] = [];
      for (let i = from; i < from + BATCH; i++) {
        const viewer = fingerprintOf(`v:viewer-${i}`);
        viewers.push(viewer);
        live.addView(video, videoHi, videoLo, Number(viewer >> 32n), Number(viewer & 0xffffffffn));
      }
      // each batch spreads over 10 minutes, with every viewer also seen again in a later minute
      const views = new BinaryWriter();
      for (let m = 0; m < 10; m++) {
        const minute = viewers.filter((_, i) => i % 10 === m);
        const again = minute.slice(0, 100);
        writeViewsRow(views, { minute: base + (from / BATCH) * 10 * MINUTE + m * MINUTE, video_id: video, channel_id: 'c', category: 'x', country: 'DE', device: 'mobile', traffic_source: 'search', views: minute.length + again.length, viewers: [...minute, ...again] });
      }
      const payload = new BinaryWriter();
      live.write(payload);
      await sink.commit(key, epoch, from + BATCH, payload.view());
      const block = { token: `${video}/${from}`, views: views.view(), outcomes: Buffer.alloc(0), rejected: Buffer.alloc(0) };
      await clickhouseSink.write(block, checkpointCopy(video, video, 0, { offset: from + BATCH, state: { full: true, bytes: Buffer.alloc(0) }, pending: block }));
    }
  });

  it('Redis HyperLogLog is within 2 %', async () => {
    const estimate = (await createLiveCounterReader(sinks.rd, { group: video, topic: video }).one(video))!.unique_viewers;
    console.log(`unique viewers: Redis HLL ${estimate} (${(((estimate - VIEWERS) / VIEWERS) * 100).toFixed(2)} %)`);
    expect(Math.abs(estimate - VIEWERS) / VIEWERS).toBeLessThan(0.02);
  });

  it('ClickHouse states merged at every granularity are within 2 %', async () => {
    for (const table of ['views_minute', 'views_hour', 'views_day']) {
      const [r] = await rows<{ u: string }>(sinks.ch, `SELECT uniqCombinedMerge(15)(unique_viewers) AS u FROM ${table} WHERE video_id = {v:String}`, { v: video });
      const estimate = Number(r.u);
      console.log(`unique viewers: ${table} ${estimate} (${(((estimate - VIEWERS) / VIEWERS) * 100).toFixed(2)} %)`);
      expect(Math.abs(estimate - VIEWERS) / VIEWERS).toBeLessThan(0.02);
    }
  });
});
