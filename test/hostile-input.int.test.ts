import { beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream, truthOf } from '../bench/labelled-stream.ts';
import { Rng } from '../bench/labelled-stream-random.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { ensureTopic } from '../pipeline/topic.ts';
import { deadLetterTopic } from '../sinks/dead-letter-sink.ts';
import { metricSum as metric } from '../pipeline/metrics.ts';
import { localConfig, runCli, sinkClients, uniqueName, DETERMINISTIC_MIX } from './harness.ts';
import { exited, startWorker } from './chaos.ts';
import { smallGarbage } from './poison-input.ts';
import { freePort } from '../infra/free-port.ts';

const HOUR = 3_600_000;
/** Where the worker serves /metrics: a port free when the file starts. */
let METRICS_PORT = 0;

/** Messages no decoder accepts: `smallGarbage`'s kinds, and one in seven oversize (40 KB). */
function garbage(rng: Rng, valid: Buffer): Buffer | null {
  return rng.int(7) === 0 ? Buffer.alloc(40_000, 0x41) : smallGarbage(rng, valid);
}

async function scrape(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
}


// Bad input never crashes the job, never stalls a partition, never loses data: valid events
// interleaved with garbage (and a partition of nothing but garbage) are counted exactly, every
// bad message is `invalid` and has its dead-letter record, and the metrics move while it runs.
describe('hostile input and metrics', () => {
  const topic = uniqueName('hostile');
  const prefix = `${topic}-`;
  const kafka = new Kafka({ clientId: 'test', brokers: localConfig().brokers, logLevel: logLevel.NOTHING });
  const sinks = sinkClients();
  let truth: ReturnType<typeof truthOf>;
  const bad: (Buffer | null)[] = [];
  const scrapes: string[] = [];

  beforeAll(async () => {
    METRICS_PORT = await freePort();
    const rng = new Rng(5);
    const events = generateLabelledStream({
      seed: 5,
      events: 12_000,
      videos: 300,
      minutes: 10,
      startMs: Math.floor(Date.now() / HOUR) * HOUR - HOUR,
      mix: DETERMINISTIC_MIX,
    })
      .toArray()
      .map((l) => ({ ...l, event: { ...l.event, video_id: prefix + l.event.video_id } }));
    truth = truthOf(events);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopic(admin, topic, 3);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const messages: { key: string; value: Buffer | null; partition: number }[] = [];
    for (const { event } of events) {
      const key = kafkaKey(event);
      const value = encodeViewEvent(event);
      // Keys stay on one of partitions 0 and 1, as the default partitioner would keep them on one.
      const partition = [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 2;
      messages.push({ key, value, partition });
      if (rng.chance(0.05)) {
        const g = garbage(rng, value);
        bad.push(g);
        messages.push({ key: rng.chance(0.5) ? '' : key, value: g, partition });
      }
    }
    for (let i = 0; i < 400; i++) {
      const g = garbage(rng, Buffer.from(encodeViewEvent(events[i].event)));
      bad.push(g);
      messages.push({ key: `g${i}`, value: g, partition: 2 });
    }
    // The worker starts on the empty topic: a first scrape before any event, a second once all are in.
    const worker = startWorker(['--topic', topic, '--group', topic, '--metrics-port', String(METRICS_PORT)], { VT_CHECKPOINT_INTERVAL_MS: '1000' });
    for (let i = 0; i < 60 && scrapes.length === 0; i++) {
      await sleep(1000);
      const text = await scrape().catch(() => '');
      if (text.includes('viewtally_pending_events')) scrapes.push(text);
    }
    for (let i = 0; i < messages.length; i += 20) await producer.send({ topic, messages: messages.slice(i, i + 20) });
    await producer.disconnect();
    for (let i = 0; i < 90 && scrapes.length === 1; i++) {
      await sleep(1000);
      const text = await scrape().catch(() => '');
      if (metric(text, 'viewtally_events_total') >= messages.length && metric(text, 'viewtally_dead_letters_total') >= bad.length) scrapes.push(text);
    }
    worker.kill('SIGTERM');
    await exited(worker);
    await runCli(['run', '--until-idle', '--topic', topic, '--group', topic]);
  });

  it('counts the valid events exactly despite the garbage between them', async () => {
    const ids = [...truth.countedByVideo.keys()];
    const values = await liveViews(sinks.rd, { group: topic, topic }, ids);
    expect(new Map(ids.map((id, i) => [id, values[i]]))).toEqual(truth.countedByVideo);
    const rows = await (
      await sinks.ch.query({ query: 'SELECT sum(views) AS v FROM views_minute WHERE startsWith(video_id, {p:String})', query_params: { p: prefix }, format: 'JSONEachRow' })
    ).json<{ v: string }>();
    expect(Number(rows[0].v)).toBe(truth.outcomes.counted);
  });

  it('gives every bad message the outcome invalid', async () => {
    const rows = await (
      await sinks.ch.query({
        query: "SELECT sum(events) AS n FROM view_outcomes_minute WHERE outcome = 'invalid' AND video_id = '' AND minute >= now() - INTERVAL 1 DAY",
        format: 'JSONEachRow',
      })
    ).json<{ n: string }>();
    expect(Number(rows[0].n)).toBeGreaterThanOrEqual(bad.length);
  });

  it('writes one dead-letter record per bad message, with its bytes and the reason', async () => {
    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: deadLetterTopic(topic), fromBeginning: true });
    const seen = new Map<string, { value: Buffer | null; reason: string }>();
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.set(message.key!.toString(), { value: message.value, reason: message.headers!.reason!.toString() });
      },
    });
    for (let i = 0; i < 60 && seen.size < bad.length; i++) await sleep(500);
    await consumer.disconnect();
    expect(seen.size).toBe(bad.length);
    const values = new Set(bad.map((b) => (b === null ? '' : b.toString('hex'))));
    for (const { value, reason } of seen.values()) {
      expect(values.has(value === null ? '' : value.toString('hex'))).toBe(true);
      expect(reason.length).toBeGreaterThan(5);
    }
  });

  it('moves the main series while it runs', () => {
    expect(scrapes.length).toBe(2);
    const [before, after] = scrapes;
    expect(metric(before, 'viewtally_events_total')).toBe(0);
    expect(metric(after, 'viewtally_events_total')).toBeGreaterThanOrEqual(12_000 + bad.length);
    expect(metric(after, 'viewtally_events_total{outcome="invalid"}')).toBeGreaterThanOrEqual(bad.length);
    expect(metric(before, 'viewtally_dead_letters_total')).toBe(0);
    expect(metric(after, 'viewtally_dead_letters_total')).toBeGreaterThanOrEqual(bad.length);
    expect(metric(after, 'viewtally_checkpoint_seconds_count')).toBeGreaterThan(metric(before, 'viewtally_checkpoint_seconds_count'));
    expect(after).toMatch(/viewtally_consumer_lag\{partition="\d"\} \d/);
    expect(after).toMatch(/viewtally_checkpoint_age_seconds\{partition="\d"\} \d/);
    expect(metric(after, 'viewtally_dedup_entries')).toBeGreaterThan(metric(before, 'viewtally_dedup_entries'));
    expect(metric(after, 'viewtally_bot_keys')).toBeGreaterThan(metric(before, 'viewtally_bot_keys'));
    expect(after).toMatch(/viewtally_watermark_delay_seconds \d/);
  });
});
