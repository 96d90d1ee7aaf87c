import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs's fetch decoding as patched in patches/kafkajs+*.patch (applied by `npm install`): offsets
// and timestamps computed as numbers while they are safe integers, as BigInt Longs beyond.
const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long');
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
const Decoder = require('kafkajs/src/protocol/decoder');
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const Batch = require('kafkajs/src/consumer/batch');

type Decoded = { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[]> };

/** Encodes one record batch as a broker sends it, then decodes it as a fetch does. */
async function roundTrip(firstOffset: bigint, firstTimestamp: bigint, records: { offsetDelta: number; timestampDelta: bigint; headers?: Record<string, string | string[]> }[]): Promise<Decoded[]> {
  const encoded = await RecordBatch({
    firstOffset: Long.fromValue(String(firstOffset)),
    firstTimestamp: Long.fromValue(String(firstTimestamp)),
    maxTimestamp: Long.fromValue(String(firstTimestamp)),
    lastOffsetDelta: records.length - 1,
    records: records.map((r, i) =>
      Record({ offsetDelta: r.offsetDelta, timestampDelta: Long.fromValue(String(r.timestampDelta)), key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: r.headers }),
    ),
  });
  return (await decodeRecordBatch(new Decoder(encoded.buffer))).records;
}

describe('kafkajs record decoding (patched)', () => {
  it('gives exact offsets and timestamps as strings, small deltas and large, both signs', async () => {
    const deltas = [0n, 1n, -1n, 63n, -64n, 8191n, -8192n, 2n ** 40n, -(2n ** 40n), 2n ** 47n - 1n, -(2n ** 47n), 2n ** 48n, -(2n ** 48n) - 1n, 2n ** 60n, 2n ** 60n + 1n, -(2n ** 62n) - 3n];
    const firstTimestamp = 1_796_000_000_000n;
    const decoded = await roundTrip(
      5_000_000n,
      firstTimestamp,
      deltas.map((timestampDelta, i) => ({ offsetDelta: i * 1000, timestampDelta })),
    );
    expect(decoded.map((r) => r.offset)).toEqual(deltas.map((_, i) => String(5_000_000n + BigInt(i * 1000))));
    expect(decoded.map((r) => r.timestamp)).toEqual(deltas.map((d) => String(firstTimestamp + d)));
    expect(decoded.map((r) => r.value!.toString())).toEqual(deltas.map((_, i) => `v${i}`));
  });

  it('stays exact past 2^53, where a number would round', async () => {
    const first = 2n ** 53n - 2n;
    const decoded = await roundTrip(first, 2n ** 62n, [0, 1, 2, 3, 4].map((offsetDelta) => ({ offsetDelta, timestampDelta: BigInt(offsetDelta) })));
    expect(decoded.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n, 4n].map((d) => String(first + d)));
    expect(decoded.map((r) => r.timestamp)).toEqual([0n, 1n, 2n, 3n, 4n].map((d) => String(2n ** 62n + d)));
  });

  it('keeps headers, repeated keys as arrays, and none as an empty object', async () => {
    const [none, some] = await roundTrip(7n, 1n, [{ offsetDelta: 0, timestampDelta: 0n }, { offsetDelta: 1, timestampDelta: 0n, headers: { a: 'x', b: ['y', 'z'] } }]);
    expect(none.headers).toEqual({});
    expect(Object.fromEntries(Object.entries(some.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]))).toEqual({ a: 'x', b: ['y', 'z'] });
  });

  it("drops the messages before the fetched offset, below 2^53 and past it", async () => {
    for (const first of [100n, 2n ** 53n + 10n]) {
      const records = await roundTrip(first, 1n, [0, 1, 2, 3].map((offsetDelta) => ({ offsetDelta, timestampDelta: 0n })));
      const batch = new Batch('t', String(first + 2n), { partition: 0, highWatermark: String(first + 4n), messages: records });
      expect(batch.messages.map((m: Decoded) => m.offset)).toEqual([String(first + 2n), String(first + 3n)]);
    }
  });
});
