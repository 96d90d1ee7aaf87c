import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RedisClient } from '../sinks/redis-client.ts';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream, truthOf, type StreamTruth } from '../bench/labelled-stream.ts';
import { Rng } from '../bench/labelled-stream-random.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { DEAD_LETTER_MAX_MESSAGE_BYTES, deadLetterTopic } from '../sinks/dead-letter-sink.ts';
import { ensureTopic } from '../pipeline/topic.ts';
import { localConfig, rows, uniqueName, DETERMINISTIC_MIX } from './harness.ts';
import { exited, startWorker } from './chaos.ts';

const HOUR = 3_600_000;
const sha256 = (b: Buffer | null) => createHash('sha256').update(b ?? Buffer.alloc(0)).digest('hex');
// The reported freeze never ended; a run that has not ended by then is called stalled.
const RUN_DEADLINE_MS = 240_000;
// Requests of the test's producer stay well under the broker's default limit (1 MiB); a bigger message goes alone.
const REQUEST_BYTES = 512 * 1024;

/** A raw message for one partition, produced in the order given. */
export interface RawMessage {
  partition: number;
  key: string | null;
  value: Buffer | null;
}

/** What a scenario put in its topic, and how the job's run on it ended. */
export interface PoisonRun {
  topic: string;
  prefix: string;
  truth: StreamTruth;
  /** Each bad message by the key its dead letter must have (`topic/partition/offset`). */
  bad: Map<string, Buffer | null>;
  run: { code: number | null; log: string };
}

/** One dead-letter record as a reader of the dead-letter topic sees it. */
export interface ReadLetter {
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A Kafka client for the local broker. */
export function testKafka(): Kafka {
  return new Kafka({ clientId: 'test', brokers: localConfig().brokers, logLevel: logLevel.NOTHING });
}

/** Creates a fresh topic with `partitions` partitions and the given topic configuration. */
export async function createTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<string> {
  const topic = uniqueName(name);
  const admin = testKafka().admin();
  await admin.connect();
  await ensureTopic(admin, topic, partitions, configs);
  await admin.disconnect();
  return topic;
}

/**
 * Produces `valid` valid events over the topic's partitions (a key stays on one), each followed by the
 * bad messages `hostile` gives for it, then runs `viewtally run --until-idle` on the topic.
 */
export async function runPoisonScenario(options: {
  topic: string;
  partitions: number;
  seed: number;
  valid: number;
  /** The bad messages to put after the i-th valid event (which went to `partition`). */
  hostile: (i: number, valid: { value: Buffer; partition: number }, rng: Rng) => { partition: number; value: Buffer | null }[];
  /** Runs once the topic is filled, before the job starts. */
  beforeRun?: (truth: StreamTruth) => Promise<void>;
}): Promise<PoisonRun> {
  const { topic, partitions } = options;
  const prefix = `${topic}-`;
  const rng = new Rng(options.seed);
  const { truth, messages: valid } = validEvents(options.seed, options.valid, prefix);
  const messages: RawMessage[] = [];
  const offsets = new Array<number>(partitions).fill(0);
  const bad = new Map<string, Buffer | null>();
  for (const [i, m] of valid.entries()) {
    const partition = [...m.key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % partitions;
    messages.push({ partition, key: m.key, value: m.value });
    offsets[partition]++;
    for (const h of options.hostile(i, { value: m.value, partition }, rng)) {
      // a fresh topic's offsets are the order of production
      bad.set(`${topic}/${h.partition}/${offsets[h.partition]++}`, h.value);
      messages.push({ partition: h.partition, key: null, value: h.value });
    }
  }
  await produceRaw(topic, messages);
  await options.beforeRun?.(truth);
  return { topic, prefix, truth, bad, run: await runUntilIdle(topic) };
}

/** Runs `viewtally run --until-idle` on the topic as its own group; kills it if it has not ended by the deadline. */
export async function runUntilIdle(topic: string): Promise<{ code: number | null; log: string }> {
  const worker = startWorker(['--until-idle', '--topic', topic, '--group', topic], { VT_CHECKPOINT_INTERVAL_MS: '1000' });
  const timer = setTimeout(() => worker.kill('SIGKILL'), RUN_DEADLINE_MS);
  await exited(worker);
  clearTimeout(timer);
  return { code: worker.exitCode, log: worker.log() };
}

/** Valid events (no bots, so every outcome is exact by construction) with their video ids under `prefix`, and their truth. */
export function validEvents(seed: number, count: number, prefix: string) {
  const events = generateLabelledStream({
    seed,
    events: count,
    videos: 200,
    minutes: 10,
    startMs: Math.floor(Date.now() / HOUR) * HOUR - HOUR,
    mix: DETERMINISTIC_MIX,
  })
    .toArray()
    .map((l) => ({ ...l, event: { ...l.event, video_id: prefix + l.event.video_id } }));
  const truth: StreamTruth = truthOf(events);
  const messages = events.map(({ event }) => ({ key: kafkaKey(event), value: encodeViewEvent(event) }));
  return { truth, messages };
}

/** Messages no decoder accepts: random bytes, cut or extended Avro, JSON text, empty, a cut Confluent frame. */
export function smallGarbage(rng: Rng, valid: Buffer): Buffer | null {
  switch (rng.int(6)) {
    case 0:
      return randomBytes(1 + rng.int(200));
    case 1:
      return valid.subarray(0, 1 + rng.int(valid.length - 2));
    case 2:
      return Buffer.concat([valid, Buffer.from([1, 2, 3])]);
    case 3:
      return Buffer.from('{"event_id":"x","event_type":"view"}');
    case 4:
      return null;
    default:
      return Buffer.from([0, 0, 0, 0, 1, ...valid.subarray(0, 10)]);
  }
}

/** Produces the messages in order, in requests under the test producer's size (a bigger message goes alone). */
export async function produceRaw(topic: string, messages: RawMessage[]): Promise<void> {
  const producer = testKafka().producer();
  await producer.connect();
  let chunk: RawMessage[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length > 0) await producer.send({ topic, acks: -1, messages: chunk });
    chunk = [];
    bytes = 0;
  };
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + 100;
    if (bytes + size > REQUEST_BYTES) await flush();
    chunk.push(m);
    bytes += size;
  }
  await flush();
  await producer.disconnect();
}

/** Asserts that a run ended by itself with exit code 0; the message tells a crash from a run still going at the deadline. */
export function expectEnded(run: { code: number | null; log: string }): void {
  expect(run.code, `exit code ${run.code} (null: still running after ${RUN_DEADLINE_MS / 1000} s, killed)\n${run.log.slice(-3000)}`).toBe(0);
}

/** Asserts that Redis and ClickHouse hold exactly the truth's counted views for the videos under `prefix` (the topic read as its own group). */
export async function expectExactCounts(ch: ClickHouseClient, rd: RedisClient, topic: string, prefix: string, truth: StreamTruth): Promise<void> {
  const ids = [...truth.countedByVideo.keys()];
  const values = await liveViews(rd, { group: topic, topic }, ids);
  expect(new Map(ids.map((id, i) => [id, Number(values[i])]))).toEqual(truth.countedByVideo);
  const [{ v }] = await rows<{ v: string }>(ch, 'SELECT sum(views) AS v FROM views_minute WHERE startsWith(video_id, {p:String})', { p: prefix });
  expect(Number(v)).toBe(truth.outcomes.counted);
  expect(truth.outcomes.counted).toBeGreaterThan(0);
}

/**
 * Asserts one dead letter per bad message, whose headers give the reason, the source position, the
 * original size and hash; its value is the message byte for byte when `whole(message)`, else a
 * prefix of it, cut to fit the dead-letter topic, with `value_truncated` saying so.
 */
export async function expectDeadLetters(s: PoisonRun, whole: (value: Buffer | null) => boolean): Promise<void> {
  const letters = await readDeadLetters(s.topic, s.bad.size);
  expect([...letters.keys()].sort()).toEqual([...s.bad.keys()].sort());
  for (const [key, value] of s.bad) {
    const { value: got, headers } = letters.get(key)!;
    const [, partition, offset] = key.split('/');
    expect(headers).toMatchObject({ source_topic: s.topic, source_partition: partition, source_offset: offset, original_size: String(value?.length ?? 0), sha256: sha256(value) });
    expect(headers.reason.length).toBeGreaterThan(5);
    if (whole(value)) {
      expect(got === null ? null : sha256(got)).toBe(value === null ? null : sha256(value));
      expect(headers.value_truncated).toBeUndefined();
    } else {
      expect(headers.value_truncated).toBe('true');
      expect(got!.length).toBeGreaterThan(DEAD_LETTER_MAX_MESSAGE_BYTES - 1_000);
      expect(got!.length).toBeLessThan(DEAD_LETTER_MAX_MESSAGE_BYTES);
      expect(value!.subarray(0, got!.length).equals(got!)).toBe(true);
    }
  }
}

/** Reads the topic's dead letters by key (`topic/partition/offset`) until `expected` are in, or a minute has passed. */
export async function readDeadLetters(topic: string, expected: number): Promise<Map<string, ReadLetter>> {
  const consumer = testKafka().consumer({ groupId: `${topic}-dlq-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: deadLetterTopic(topic), fromBeginning: true });
  const seen = new Map<string, ReadLetter>();
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.set(message.key!.toString(), { value: message.value, headers: headerStrings(message.headers ?? {}) });
    },
  });
  for (let i = 0; i < 120 && seen.size < expected; i++) await sleep(500);
  await consumer.disconnect();
  return seen;
}

function headerStrings(headers: IHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
}
