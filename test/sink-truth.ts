import type { ClickHouseClient } from '@clickhouse/client';
import { expect } from 'vitest';
import { dimsKey, type StreamTruth } from '../bench/labelled-stream-truth.ts';
import type { LabelledEvent } from '../bench/labelled-stream.ts';
import { liveViews, type CounterScope } from '../sinks/live-counters.ts';
import type { RedisClient } from '../sinks/redis-client.ts';
import { createKafka } from '../pipeline/kafka-client.ts';
import { localConfig, rows } from './harness.ts';

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

/** Messages in every partition of `topic`: the events, and any the test producer wrote twice. */
export async function messagesIn(topic: string): Promise<number> {
  const admin = createKafka('test-truth', localConfig().brokers).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Asserts the live totals (through the one reader of both layouts), the minute rows and the
 * outcome table equal the stream's truth: every message of the topic has exactly one outcome.
 * The topic may hold an event twice — kafkajs's idempotent producer can write a batch again when
 * a request times out on a loaded machine or a broker is lost — and such a copy is a `duplicate`
 * (or a second `not_a_view`): it must change no count of views.
 */
export async function expectSinksEqualTruth(ch: ClickHouseClient, redis: RedisClient, scope: CounterScope, events: LabelledEvent[], truth: StreamTruth, prefix: string): Promise<void> {
  const ids = [...new Set(events.map((l) => l.event.video_id))];
  const values = await liveViews(redis, scope, ids);
  expect(new Map(ids.flatMap((id, i) => (values[i] === 0 ? [] : [[id, values[i]] as const])))).toEqual(truth.countedByVideo);
  expect(await minuteViews(ch, prefix)).toEqual(truth.countedByMinuteDims);
  const messages = await messagesIn(scope.topic);
  expect(messages).toBeGreaterThanOrEqual(events.length);
  if (messages > events.length) console.log(`${scope.topic}: the test producer wrote ${messages - events.length} of ${events.length} events twice`);
  const [r] = await rows<{ n: string }>(ch, 'SELECT sum(events) AS n FROM view_outcomes_minute WHERE startsWith(video_id, {p:String})', { p: prefix });
  expect(Number(r.n)).toBe(messages);
}
