import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer, ProducerRecord } from 'kafkajs';
import { DeadLetterSink, deadLetterTopic, type DeadLetter } from './dead-letter-sink.ts';
import { uniqueName } from '../test/harness.ts';
import { testKafka } from '../test/poison-input.ts';
import { ensureTopic } from '../pipeline/topic.ts';

/** A real producer that records how each request ended. */
function recording(producer: Producer) {
  const requests: { letters: number; ok: boolean }[] = [];
  const send = (r: ProducerRecord) =>
    producer.send(r).then(
      (res) => (requests.push({ letters: r.messages.length, ok: true }), res),
      (err: Error) => {
        requests.push({ letters: r.messages.length, ok: false });
        throw err;
      },
    );
  return { producer: { send } as unknown as Producer, requests };
}

/** Every record of a topic, by key. */
async function readAll(topic: string, expected: number) {
  const consumer = testKafka().consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map<string, { value: Buffer | null; truncated: boolean }>();
  await consumer.run({ eachMessage: async ({ message }) => void seen.set(message.key!.toString(), { value: message.value, truncated: message.headers?.value_truncated !== undefined }) });
  for (let i = 0; i < 60 && seen.size < expected; i++) await sleep(250);
  await consumer.disconnect();
  return seen;
}

/** Creates the dead-letter topic of `source` with the given `max.message.bytes`. */
async function deadLetterTopicOf(source: string, maxMessageBytes: number): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  await ensureTopic(admin, deadLetterTopic(source), 1, { 'max.message.bytes': String(maxMessageBytes) });
  await admin.disconnect();
}

const letter = (offset: number, bytes: number): DeadLetter => ({ partition: 0, offset, value: randomBytes(bytes), reason: 'value: not Avro' });

// Against the real broker: whatever the dead-letter topic's limit, a send ends, and every letter is
// stored (whole, cut, or headers only) or reported as poison.
describe('DeadLetterSink', () => {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });

  beforeAll(() => producer.connect());
  afterAll(() => producer.disconnect());

  it('fills requests up to the topic limit and the broker takes each one first time', async () => {
    const source = uniqueName('dls-fill');
    await deadLetterTopicOf(source, 20_000);
    const { producer: p, requests } = recording(producer);
    const sink = new DeadLetterSink(p, source, { maxMessageBytes: 20_000, onPoison: () => expect.unreachable() });
    const letters = Array.from({ length: 100 }, (_, i) => letter(i, 900 + (i % 7) * 100));
    await sink.send(letters);
    expect(requests.every((r) => r.ok)).toBe(true);
    expect(requests.length).toBeLessThanOrEqual(8); // ~120 KB in requests of up to 20 KB
    const stored = await readAll(deadLetterTopic(source), 100);
    expect(stored.size).toBe(100);
    for (const l of letters) expect(stored.get(`${source}/0/${l.offset}`)!.value!.equals(l.value!)).toBe(true);
  });

  it('splits a request the broker refuses, sends a letter refused alone headers only, and does not send a letter twice on a retry', async () => {
    const source = uniqueName('dls-split');
    // The topic's limit went down after the job read it: the sink's sizing is wrong, the broker is right.
    await deadLetterTopicOf(source, 3_000);
    const { producer: p, requests } = recording(producer);
    const sink = new DeadLetterSink(p, source, { maxMessageBytes: 1 << 20, onPoison: () => expect.unreachable() });
    const letters = [letter(0, 100), letter(1, 100), letter(2, 5_000), letter(3, 100)];
    await sink.send(letters);
    expect(requests.filter((r) => !r.ok).length).toBeGreaterThan(0);
    const stored = await readAll(deadLetterTopic(source), 4);
    expect([...stored.keys()].sort()).toEqual([0, 1, 2, 3].map((o) => `${source}/0/${o}`));
    expect(stored.get(`${source}/0/2`)).toEqual({ value: Buffer.alloc(0), truncated: true });
    expect(stored.get(`${source}/0/0`)!.value!.equals(letters[0].value!)).toBe(true);
    const before = requests.length;
    await sink.send(letters); // the committer's retry after a later failure
    expect(requests.length).toBe(before);
  });

  it('skips, through onPoison, a letter the broker refuses even headers only, and goes on with the others', async () => {
    const source = uniqueName('dls-poison');
    await deadLetterTopicOf(source, 300);
    const poisoned: number[] = [];
    const sink = new DeadLetterSink(producer, source, { maxMessageBytes: 1 << 20, onPoison: (l) => poisoned.push(l.offset) });
    await sink.send([letter(0, 10), { ...letter(1, 10), reason: 'r'.repeat(600) }, letter(2, 10)]);
    expect(poisoned).toEqual([1]);
    expect([...(await readAll(deadLetterTopic(source), 2)).keys()].sort()).toEqual([`${source}/0/0`, `${source}/0/2`]);
  });
});
