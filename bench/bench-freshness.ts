import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { Producer, compatibilityPartitioner } from '@platformatic/kafka';
import type { RedisClient } from '../sinks/redis-client.ts';
import { ensureTopic } from '../pipeline/topic.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { addressVerdictsTopic, byAddressTopic } from '../schemas/address-messages.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import { startChild } from './bench-child.ts';
import type { EventPool } from './bench-load.ts';
import { livePositions, round } from './bench-throughput.ts';
import { liveViews } from '../sinks/live-counters.ts';
import { percentile } from './percentile.ts';

/** One freshness run at a fixed produce rate. */
export interface FreshnessAttempt {
  topic: string;
  targetRate: number;
  /** Events actually produced per second (the producer may fall short). */
  producedRate: number;
  /** Events the job wrote to the live counters per second over the same window. */
  processedRate: number;
  seconds: number;
  /** Markers produced and seen in Redis; latency = visible in `vt:views:{marker}` − its `ts` (= produce time). */
  markers: number;
  visible: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Events not yet processed when producing stopped. */
  lagAtEnd: number;
  /** Producer kept the rate, the job kept up (lag under two seconds of events), every marker seen. */
  sustained: boolean;
  series: { t: number; produced: number; processed: number; lag: number }[];
  loadAverage: number[];
}

interface FreshnessContext {
  brokers: string[];
  redis: RedisClient;
  /** The job's Redis (its own process connects there, as the line's `redis` client does). */
  redisUrl: string;
  /** The job's ClickHouse: the benchmark's own. */
  clickhouseUrl: string;
  partitions: number;
  pool: EventPool;
  runId: string;
  log: (line: string) => void;
  jobNodeArgs?: string[];
  /** Worker threads of the job. */
  workers: number;
}

const TICK_MS = 5;
const POLL_MS = 10;
// 100 a second: the p99 of a 20 s attempt is the 20th-worst of 2 000 markers, not the 4th-worst of 400
const MARKER_EVERY_MS = 10;
/** A marker not seen this long after producing stopped counts as never visible. */
const SETTLE_MS = 10_000;

/** A view that counts, from a person no other event shares anything with. */
function markerEvent(runId: string, i: number, ts: number): ViewEvent {
  return {
    event_id: `mk-${runId}-${i}`,
    event_type: 'view',
    video_id: `bench-mark-${runId}-${i}`,
    channel_id: 'bench-mark',
    category: 'music',
    viewer_id: `mk-${runId}-${i}`,
    owner_id: 'bench-mark-owner',
    session_id: `mk-${runId}-${i}`,
    ts,
    watch_ms: 120_000,
    video_duration_ms: 600_000,
    country: 'US',
    device: 'desktop',
    traffic_source: 'direct',
    ip: `73.${(i >> 16) & 255}.${(i >> 8) & 255}.${1 + (i % 254)}`,
    user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    ja3: null,
  };
}

/**
 * Produces the pool's events at `rate` per second for `seconds`, each stamped with its send time
 * as `ts`, while the job runs (its own process, a fresh topic and group); a marker view every
 * 10 ms, each of its own video, is polled in Redis every 10 ms until its count appears.
 */
export async function runFreshness(ctx: FreshnessContext, rate: number, seconds: number, attempt: number): Promise<FreshnessAttempt> {
  const topic = `vt-bench-fresh-${ctx.runId}-${attempt}`;
  const kafka = new Kafka({ clientId: 'viewtally-bench', brokers: ctx.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, topic, ctx.partitions);
  const producer = new Producer({ clientId: 'viewtally-bench-fresh', bootstrapBrokers: ctx.brokers, acks: 1, autocreateTopics: false });
  // Marker ids are unique to the attempt: a marker counted in an earlier attempt would look visible at once.
  const markerRun = `${ctx.runId}-${attempt}`;
  const job = startChild('bench/job-child.ts', { topic, group: topic, untilIdle: false, workers: ctx.workers, brokers: ctx.brokers, redis: ctx.redisUrl, clickhouse: ctx.clickhouseUrl }, { name: `fresh-job-${ctx.runId}-${attempt}`, nodeArgs: ctx.jobNodeArgs });
  const keys = Array.from({ length: ctx.partitions }, (_, p) => progressKey(topic, topic, p));
  const partitionOf = (key: Buffer) => compatibilityPartitioner(undefined as never, key) % ctx.partitions;
  let markerSeq = 0;
  const outstanding = new Map<string, number>();
  const latencies: number[] = [];
  const sendMarker = () => {
    const ts = Date.now();
    const e = markerEvent(markerRun, markerSeq++, ts);
    const key = Buffer.from(kafkaKey(e));
    outstanding.set(e.video_id, ts);
    return { topic, key, value: encodeViewEvent(e), partition: partitionOf(key) };
  };
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const ids = [...outstanding.keys()];
      if (ids.length > 0) {
        const values = await liveViews(ctx.redis, { group: topic, topic }, ids);
        const now = Date.now();
        values.forEach((v, i) => {
          if (v === 0) return;
          latencies.push(now - outstanding.get(ids[i])!);
          outstanding.delete(ids[i]);
        });
      }
      await sleep(POLL_MS);
    }
  })();
  try {
    // Ready when a first marker comes through: the job has joined, claimed and flushed.
    await producer.send({ messages: [sendMarker()] });
    const readyBy = Date.now() + 60_000;
    while (outstanding.size > 0 && Date.now() < readyBy) await sleep(50);
    if (outstanding.size > 0) throw new Error(`freshness: the job did not count a first marker within 60 s (topic ${topic})`);
    latencies.length = 0;
    ctx.log(`freshness: producing ${rate} events/s for ${seconds} s`);

    const start = Date.now();
    const end = start + seconds * 1000;
    let sent = 1;
    let poolAt = 0;
    let nextMarker = start;
    let markers = 0;
    const inFlight = new Set<Promise<unknown>>();
    const series: FreshnessAttempt['series'] = [];
    let sampleAt = start;
    while (Date.now() < end) {
      const now = Date.now();
      // Requests of at most 50 ms of events, as many as are due (a tick this process was descheduled for is
      // caught up, not lost), at most 8 in flight: a broker or producer that cannot keep up shows as a lower rate, not a queue.
      let due = Math.floor(((now - start) / 1000) * rate) - (sent - 1 - markers);
      while (due > 0 && inFlight.size < 8) {
        const messages = [];
        for (let i = Math.min(due, Math.ceil(rate / 20)); i > 0; i--, due--) {
          const m = ctx.pool.message(poolAt++, now);
          messages.push({ topic, key: m.key, value: m.value, partition: partitionOf(m.key) });
        }
        while (nextMarker <= now) {
          messages.push(sendMarker());
          markers++;
          nextMarker += MARKER_EVERY_MS;
        }
        sent += messages.length;
        const p = producer.send({ messages }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (now >= sampleAt) {
        sampleAt += 500;
        void livePositions(ctx.redis, keys).then((processed) => series.push({ t: round((Date.now() - start) / 1000, 2), produced: sent, processed, lag: sent - processed }));
      }
      await sleep(TICK_MS);
    }
    await Promise.all(inFlight);
    const producedSeconds = (Date.now() - start) / 1000;
    const processedAtEnd = await livePositions(ctx.redis, keys);
    const firstProcessed = series.find((p) => p.t >= 1)?.processed ?? 0;
    const lastPoint = series[series.length - 1];
    const settleBy = Date.now() + SETTLE_MS;
    while (outstanding.size > 0 && Date.now() < settleBy) await sleep(50);
    const sorted = [...latencies].sort((a, b) => a - b);
    const missing = outstanding.size;
    // A marker never seen is as late as the settle time: it pulls the percentiles up instead of vanishing.
    for (let i = 0; i < missing; i++) sorted.push(Number.POSITIVE_INFINITY);
    const producedRate = Math.round((sent - 1) / producedSeconds);
    const lagAtEnd = sent - processedAtEnd;
    const result: FreshnessAttempt = {
      topic,
      targetRate: rate,
      producedRate,
      processedRate: lastPoint && lastPoint.t > 1 ? Math.round((lastPoint.processed - firstProcessed) / (lastPoint.t - 1)) : 0,
      seconds: round(producedSeconds, 2),
      markers,
      visible: markers - missing,
      p50Ms: percentile(sorted, 50),
      p90Ms: percentile(sorted, 90),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1],
      lagAtEnd,
      sustained: producedRate >= rate * 0.97 && lagAtEnd <= rate * 2 && missing === 0,
      series,
      loadAverage: loadavg().map((x) => round(x, 2)),
    };
    ctx.log(`freshness at ${rate}/s: produced ${producedRate}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, lag at end ${lagAtEnd}${result.sustained ? '' : ' (not sustained)'}`);
    return result;
  } finally {
    polling = false;
    await poller.catch(() => {});
    job.stop();
    await job.done.catch((err: Error) => ctx.log(`freshness job: ${err.message}`));
    await producer.close();
    // the job's group is named as the topic: its internal topics go with it
    await admin.deleteTopics({ topics: [topic, byAddressTopic(topic, topic), addressVerdictsTopic(topic, topic)] }).catch(() => {});
    await admin.disconnect();
  }
}
