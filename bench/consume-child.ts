/**
 * The comparison lines of the throughput measure, each a process of its own like the job:
 *
 *   node --import tsx bench/consume-child.ts '<json>'   json = ConsumeChildArgs
 *
 * - `kafkajs`: the limit line — kafkajs consumer, eachBatch, decodeViewEvent, nothing else;
 * - `platformatic`: the same with @platformatic/kafka's consumer stream;
 * - `naive`: the seed design — kafkajs + decode, then per batch one pipeline of `SET NX EX` per
 *   view's event_id and one of `INCR` per new view long enough to count.
 *
 * Each reads the topic from the start with a new group until it has every message, printing a
 * progress line a second and a summary line last (JSON).
 */
import { Kafka, logLevel } from 'kafkajs';
import { Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { decodeViewEvent } from '../schemas/avro-codec.ts';
import type { ViewEvent } from '../schemas/view-event.ts';

export interface ConsumeChildArgs {
  mode: 'kafkajs' | 'platformatic' | 'naive';
  brokers: string[];
  topic: string;
  group: string;
  /** Messages in the topic: the run ends when all are read. */
  expected: number;
  /** Redis URL (naive) and the key prefix it writes under. */
  redis?: string;
  keyPrefix?: string;
}

/** What a consume run reports. */
export interface ConsumeSummary {
  mode: ConsumeChildArgs['mode'];
  events: number;
  invalid: number;
  /** From the first message to the last (the group join before it is not counted). */
  seconds: number;
  eventsPerSecond: number;
  /** Connect and join until the first message. */
  startSeconds: number;
  /** Views and the sum of their watch_ms mod 2^32: the same for every client that read the same events. */
  views: number;
  checksum: number;
  /** CPU time of the process (user + system), startup included. */
  cpuMs: number;
  /** naive only: views counted (INCR) and Redis round trips. */
  counted?: number;
  roundTrips?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ConsumeChildArgs;
const started = performance.now();
let first = 0;
let events = 0;
let invalid = 0;
let views = 0;
let checksum = 0;
let counted = 0;
let roundTrips = 0;
const progress = setInterval(() => console.log(JSON.stringify({ progress: true, t: Date.now(), events })), 1_000);

function take(value: Buffer | null | undefined): ViewEvent | null {
  if (first === 0) first = performance.now();
  events++;
  if (!value) {
    invalid++;
    return null;
  }
  try {
    const e = decodeViewEvent(value);
    if (e.event_type === 'view') {
      views++;
      checksum = (checksum + e.watch_ms) % 4294967296;
    }
    return e;
  } catch {
    invalid++;
    return null;
  }
}

function finish(): void {
  clearInterval(progress);
  const end = performance.now();
  const seconds = (end - first) / 1000;
  const summary: ConsumeSummary = {
    mode: args.mode,
    events,
    invalid,
    seconds,
    eventsPerSecond: Math.round(events / seconds),
    startSeconds: (first - started) / 1000,
    views,
    checksum,
    cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    ...(args.mode === 'naive' ? { counted, roundTrips } : {}),
  };
  console.log(JSON.stringify(summary));
}

async function withKafkajs(handle?: (events: ViewEvent[]) => Promise<void>): Promise<void> {
  const kafka = new Kafka({ clientId: `viewtally-bench-${args.mode}`, brokers: args.brokers, logLevel: logLevel.NOTHING });
  // The job's consumer settings, so the two lines differ only in what happens after the fetch.
  const consumer = kafka.consumer({ groupId: args.group, maxBytesPerPartition: 4 << 20, sessionTimeout: 30_000 });
  await consumer.connect();
  await consumer.subscribe({ topic: args.topic, fromBeginning: true });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const decoded: ViewEvent[] = [];
      for (const m of batch.messages) {
        const e = take(m.value);
        if (e) decoded.push(e);
      }
      if (handle) await handle(decoded);
      if (events >= args.expected) resolveDone();
    },
  });
  await done;
  finish();
  await consumer.disconnect();
}

async function withPlatformatic(): Promise<void> {
  const consumer = new PlatformaticConsumer({
    clientId: 'viewtally-bench-platformatic',
    groupId: args.group,
    bootstrapBrokers: args.brokers,
    maxBytesPerPartition: 4 << 20,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  const stream = await consumer.consume({ topics: [args.topic], mode: 'earliest', autocommit: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('data', (message: { value?: Buffer }) => {
      take(message.value);
      if (events >= args.expected) resolve();
    });
  });
  finish();
  await stream.close();
  await consumer.close(true);
}

async function naive(): Promise<void> {
  const redis = new Redis(args.redis!);
  const prefix = args.keyPrefix!;
  await withKafkajs(async (batch) => {
    const candidates = batch.filter((e) => e.event_type === 'view');
    if (candidates.length === 0) return;
    const dedup = redis.pipeline();
    for (const e of candidates) dedup.set(`${prefix}e:${e.event_id}`, '1', 'EX', 3_600, 'NX');
    const results = (await dedup.exec()) ?? [];
    roundTrips++;
    const incr = redis.pipeline();
    let n = 0;
    candidates.forEach((e, i) => {
      const required = e.video_duration_ms === null ? 30_000 : Math.min(30_000, e.video_duration_ms * 0.5);
      if (results[i]?.[1] === 'OK' && e.watch_ms >= required) {
        incr.incr(`${prefix}v:${e.video_id}`);
        n++;
      }
    });
    if (n > 0) {
      await incr.exec();
      roundTrips++;
      counted += n;
    }
  });
  redis.disconnect();
}

if (args.mode === 'kafkajs') await withKafkajs();
else if (args.mode === 'platformatic') await withPlatformatic();
else await naive();
process.exit(0);
