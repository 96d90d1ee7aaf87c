import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { Rng } from '../bench/labelled-stream-random.ts';
import type { StreamTruth } from '../bench/labelled-stream.ts';
import { ensureTopic } from '../pipeline/topic.ts';
import { clickhouse, redis, uniqueName } from './harness.ts';
import { expectExactCounts, produceRaw, readDeadLetters, runUntilIdle, smallGarbage, testKafka, validEvents, type RawMessage } from './poison-input.ts';

const sha256 = (b: Buffer | null) => createHash('sha256').update(b ?? Buffer.alloc(0)).digest('hex');

// Bad input never stalls a partition: however large or however many the bad messages, `run
// --until-idle` ends, the valid events are counted exactly, and every bad message has its dead letter.
describe('a poison record never stalls a partition', () => {
  let ch: ClickHouseClient;
  let rd: Redis;

  beforeAll(async () => {
    ch = await clickhouse();
    rd = redis();
  });

  afterAll(async () => {
    await ch?.close();
    rd?.disconnect();
  });

  describe('20 000 valid events with 2 000 hostile messages between them, some of ~900 KB', () => {
    const topic = uniqueName('poison');
    const prefix = `${topic}-`;
    let truth: StreamTruth;
    let bad: Map<string, { partition: number; value: Buffer | null }>;
    let run: { code: number | null; log: string };

    beforeAll(async () => {
      const rng = new Rng(14);
      const valid = validEvents(14, 20_000, prefix);
      truth = valid.truth;
      const admin = testKafka().admin();
      await admin.connect();
      await ensureTopic(admin, topic, 3);
      await admin.disconnect();
      bad = new Map();
      const offsets = [0, 0, 0];
      const messages: RawMessage[] = [];
      for (const [i, m] of valid.messages.entries()) {
        const partition = [...m.key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 3;
        messages.push({ partition, key: m.key, value: m.value });
        offsets[partition]++;
        if (i % 10 === 5) {
          // one in 25 hostile messages is ~900 KB of junk: legal for the broker, too big for one request with others
          const value = Math.floor(i / 10) % 25 === 0 ? randomBytes(880_000 + rng.int(40_000)) : smallGarbage(rng, m.value);
          bad.set(`${topic}/${partition}/${offsets[partition]}`, { partition, value });
          messages.push({ partition, key: null, value });
          offsets[partition]++;
        }
      }
      expect(bad.size).toBe(2_000);
      expect([...bad.values()].filter((b) => (b.value?.length ?? 0) > 800_000).length).toBe(80);
      await produceRaw(topic, messages);
      run = await runUntilIdle(topic);
    });

    it('ends', () => {
      expect(run.code, run.log.slice(-3000)).toBe(0);
    });

    it('counts the valid events exactly', async () => {
      await expectExactCounts(ch, rd, prefix, truth);
    });

    it('gives every hostile message its dead letter, byte for byte, with the reason, size and hash', async () => {
      const letters = await readDeadLetters(topic, bad.size);
      expect([...letters.keys()].sort()).toEqual([...bad.keys()].sort());
      for (const [key, { value }] of bad) {
        const letter = letters.get(key)!;
        expect(letter.value === null ? null : sha256(letter.value)).toBe(value === null ? null : sha256(value));
        expect(letter.headers.reason.length).toBeGreaterThan(5);
        expect(letter.headers.original_size).toBe(String(value?.length ?? 0));
        expect(letter.headers.sha256).toBe(sha256(value));
        expect(letter.headers.value_truncated).toBeUndefined();
      }
    });
  });
});
