import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { topicConfig } from '../pipeline/topic.ts';
import { sinkClients } from './harness.ts';
import { createTopic, expectDeadLetters, expectEnded, expectExactCounts, runPoisonScenario, smallGarbage, testKafka, type PoisonRun } from './poison-input.ts';

// The job's consumer fetches at most this much per partition (`maxBytesPerPartition` in pipeline/job.ts).
const FETCH_BYTES_PER_PARTITION = 4 << 20;
// Framing of a record batch holding one record without key or headers: the broker's limit is the batch's size.
const ONE_RECORD_FRAMING = 72;
const all = () => true;
const none = () => false;

// Bad input never stalls a partition: however large or however many the bad messages, `run
// --until-idle` ends, the valid events are counted exactly, and every bad message has its dead letter.
describe('a poison record never stalls a partition', () => {
  const sinks = sinkClients();

  describe('20 000 valid events with 2 000 hostile messages between them, 80 of them ~900 KB', () => {
    let s: PoisonRun;

    beforeAll(async () => {
      s = await runPoisonScenario({
        topic: await createTopic('poison-mix', 3),
        partitions: 3,
        seed: 14,
        valid: 20_000,
        // ~900 KB of junk is legal for the broker, but two of them are too big for one request
        hostile: (i, v, rng) =>
          i % 10 !== 5 ? [] : [{ partition: v.partition, value: Math.floor(i / 10) % 25 === 0 ? randomBytes(880_000 + rng.int(40_000)) : smallGarbage(rng, v.value) }],
      });
      expect(s.bad.size).toBe(2_000);
      expect([...s.bad.values()].filter((b) => (b?.length ?? 0) > 800_000).length).toBe(80);
    });

    it('ends', () => expectEnded(s.run));
    it('counts the valid events exactly', () => expectExactCounts(sinks.ch, sinks.rd, s.topic, s.prefix, s.truth));
    it('gives every hostile message its dead letter, byte for byte, with the reason, size and hash', () => expectDeadLetters(s, all));
  });

  describe("messages at the broker's size limit", () => {
    let s: PoisonRun;
    let size: number;
    let oneMore: Promise<unknown>;

    beforeAll(async () => {
      const topic = await createTopic('poison-limit', 2);
      const admin = testKafka().admin();
      await admin.connect();
      size = Number(await topicConfig(admin, topic, 'max.message.bytes')) - ONE_RECORD_FRAMING;
      await admin.disconnect();
      const producer = testKafka().producer();
      await producer.connect();
      oneMore = producer.send({ topic, acks: -1, messages: [{ partition: 0, value: randomBytes(size + 1) }] }).catch((err: Error & { type?: string }) => err.type);
      await oneMore;
      await producer.disconnect();
      s = await runPoisonScenario({
        topic,
        partitions: 2,
        seed: 15,
        valid: 2_000,
        hostile: (i, v) => (i % 100 === 50 ? [{ partition: v.partition, value: randomBytes(size) }] : []),
      });
      expect(s.bad.size).toBe(20);
    });

    it('are the largest the broker takes', async () => expect(await oneMore).toBe('MESSAGE_TOO_LARGE'));
    it('end the run', () => expectEnded(s.run));
    it('leave the valid events counted exactly', () => expectExactCounts(sinks.ch, sinks.rd, s.topic, s.prefix, s.truth));
    it('each have a dead letter cut to fit, with the original size and hash', () => expectDeadLetters(s, none));
  });

  describe("messages above the consumer's per-partition fetch size", () => {
    let s: PoisonRun;

    beforeAll(async () => {
      const big = FETCH_BYTES_PER_PARTITION + (1 << 20);
      s = await runPoisonScenario({
        topic: await createTopic('poison-fetch', 2, { 'max.message.bytes': String(8 << 20) }),
        partitions: 2,
        seed: 16,
        valid: 2_000,
        hostile: (i, v) => (i % 300 === 150 ? [{ partition: v.partition, value: randomBytes(big) }] : []),
      });
      expect(s.bad.size).toBe(7);
    });

    it('end the run', () => expectEnded(s.run));
    it('leave the valid events counted exactly', () => expectExactCounts(sinks.ch, sinks.rd, s.topic, s.prefix, s.truth));
    it('each have a dead letter cut to fit, with the original size and hash', () => expectDeadLetters(s, none));
  });

  describe('10 000 consecutive bad messages', () => {
    let s: PoisonRun;

    beforeAll(async () => {
      s = await runPoisonScenario({
        topic: await createTopic('poison-run', 2),
        partitions: 2,
        seed: 17,
        valid: 2_000,
        hostile: (i, v, rng) => (i === 1_000 ? Array.from({ length: 10_000 }, () => ({ partition: v.partition, value: smallGarbage(rng, v.value) })) : []),
      });
    });

    it('end the run', () => expectEnded(s.run));
    it('leave the valid events counted exactly', () => expectExactCounts(sinks.ch, sinks.rd, s.topic, s.prefix, s.truth));
    it('each have their dead letter', () => expectDeadLetters(s, all));
  });
});
