import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { AddressRecordSink } from './address-record-sink.ts';
import { AddressMessage, AddressRecordWriter, byAddressTopic, MAX_RECORDS } from '../schemas/address-messages.ts';
import { uniqueName } from '../test/harness.ts';
import { testKafka } from '../test/poison-input.ts';
import { ensureTopic } from '../pipeline/topic.ts';

// Against the real broker and its default message.max.bytes (1 MB): a flush held back long enough
// to hold several full messages for one address partition is taken whole, in order.
describe('AddressRecordSink', () => {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  beforeAll(() => producer.connect());
  afterAll(() => producer.disconnect());

  it('sends a flush of three full messages for one address partition without a record batch over the broker limit, in order', async () => {
    const source = uniqueName('by-address');
    const topic = byAddressTopic(source, 'g');
    const admin = testKafka().admin();
    await admin.connect();
    await ensureTopic(admin, topic, 2);
    await admin.disconnect();
    const w = new AddressRecordWriter(2);
    const n = 3 * MAX_RECORDS + 7;
    // address key lo 0 → partition 0 (every record but one), lo 1 → partition 1
    for (let i = 0; i < n; i++) w.add(i, 1_000 + i, 9, i === 5 ? 1 : 0, 3, 4, 0);
    const flush = w.take(3, 777, false);
    expect(flush.filter((m) => m.partition === 0).length).toBe(4);
    await new AddressRecordSink(producer, source, 'g').send(3, flush);

    const consumer = testKafka().consumer({ groupId: uniqueName('reader') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: Array<[number, number, number, number]> = [];
    const m = new AddressMessage();
    await consumer.run({ eachMessage: async ({ partition, message }) => void (m.load(message.value!), got.push([partition, m.count, m.offset(0), m.watermark])) });
    for (let i = 0; i < 120 && got.length < 5; i++) await sleep(250);
    await consumer.disconnect();
    expect(got.filter(([p]) => p === 0)).toEqual([
      [0, MAX_RECORDS, 0, Number.NEGATIVE_INFINITY],
      [0, MAX_RECORDS, MAX_RECORDS + 1, Number.NEGATIVE_INFINITY],
      [0, MAX_RECORDS, 2 * MAX_RECORDS + 1, Number.NEGATIVE_INFINITY],
      [0, 6, 3 * MAX_RECORDS + 1, 777],
    ]);
    expect(got.filter(([p]) => p === 1)).toEqual([[1, 1, 5, 777]]);
  });
});
