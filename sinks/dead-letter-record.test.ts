import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { BATCH_OVERHEAD_BYTES, deadLetterRecord, groupsUnder, headersOnly, type DeadLetterRecord } from './dead-letter-record.ts';

// kafkajs's own record batch encoder: the bytes the broker compares with `max.message.bytes`.
const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => unknown;

/** The size of a record batch holding the records, as kafkajs sends it (timestamps a day apart at worst). */
async function batchBytes(records: DeadLetterRecord[]): Promise<number> {
  const encoded = records.map((r, i) => Record({ offsetDelta: i, timestampDelta: i * 86_400_000, key: Buffer.from(r.key), value: r.value, headers: r.headers }));
  return (await RecordBatch({ records: encoded, lastOffsetDelta: records.length - 1 })).buffer.length;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const LIMIT = 1 << 20;

describe('deadLetterRecord', () => {
  it('keeps a letter that fits whole, with reason, source position, size and hash in its headers', () => {
    const value = randomBytes(900_000);
    const r = deadLetterRecord('views', { partition: 2, offset: 41, value, reason: 'value: not Avro' }, LIMIT - BATCH_OVERHEAD_BYTES);
    expect(r.key).toBe('views/2/41');
    expect(r.value).toBe(value);
    expect(r.headers).toEqual({
      reason: 'value: not Avro',
      source_topic: 'views',
      source_partition: '2',
      source_offset: '41',
      original_size: '900000',
      sha256: sha256(value),
    });
  });

  it('cuts a letter too big to go alone to what fits, and says so', async () => {
    const value = randomBytes(LIMIT);
    const r = deadLetterRecord('views', { partition: 0, offset: 7, value, reason: 'value: not Avro' }, LIMIT - BATCH_OVERHEAD_BYTES);
    expect(r.headers.value_truncated).toBe('true');
    expect(r.headers.original_size).toBe(String(LIMIT));
    expect(r.headers.sha256).toBe(sha256(value));
    expect(value.subarray(0, r.value!.length).equals(r.value!)).toBe(true);
    const sent = await batchBytes([r]);
    expect(sent).toBeLessThanOrEqual(LIMIT);
    // the estimate is an upper bound, not a waste: a few dozen bytes of slack at most
    expect(sent).toBeGreaterThan(LIMIT - 100);
  });

  it('keeps a null value null, with the size and hash of nothing', () => {
    const r = deadLetterRecord('views', { partition: 0, offset: 1, value: null, reason: 'value: empty message' }, 1_000);
    expect(r.value).toBeNull();
    expect(r.headers.original_size).toBe('0');
    expect(r.headers.sha256).toBe(sha256(Buffer.alloc(0)));
  });

  it('bounds the reason header, which repeats what the decoder saw', () => {
    const r = deadLetterRecord('views', { partition: 0, offset: 1, value: Buffer.from('x'), reason: 'y'.repeat(100_000) }, LIMIT);
    expect(r.headers.reason.length).toBeLessThanOrEqual(1_001);
  });

  it('goes headers only when even the cut value is refused', () => {
    const r = headersOnly(deadLetterRecord('views', { partition: 0, offset: 1, value: randomBytes(5_000), reason: 'bad' }, LIMIT));
    expect(r.value!.length).toBe(0);
    expect(r.headers.value_truncated).toBe('true');
    expect(r.headers.original_size).toBe('5000');
  });

  it('estimates every record at or above its real size in a batch, so a group under the limit is a batch under it', async () => {
    const letter = fc.record({
      partition: fc.integer({ min: 0, max: 10_000 }),
      offset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      value: fc.option(fc.uint8Array({ maxLength: 5_000 }).map((a) => Buffer.from(a))),
      reason: fc.string({ unit: 'grapheme', maxLength: 2_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(letter, { minLength: 1, maxLength: 30 }), fc.integer({ min: 300, max: 40_000 }), async (letters, limit) => {
        const records = letters.map((l) => deadLetterRecord('topic-ü', l, limit - BATCH_OVERHEAD_BYTES));
        for (const group of groupsUnder(records, limit - BATCH_OVERHEAD_BYTES)) {
          const real = await batchBytes(group);
          expect(real).toBeLessThanOrEqual(BATCH_OVERHEAD_BYTES + group.reduce((n, r) => n + r.bytes, 0));
          if (group.length > 1) expect(real).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('groupsUnder', () => {
  const sized = (bytes: number) => ({ bytes }) as DeadLetterRecord;

  it('keeps the order, stays under the budget, and sends a record bigger than it alone', () => {
    const records = [100, 300, 600, 2_000, 50, 50].map(sized);
    const groups = groupsUnder(records, 1_000);
    expect(groups.map((g) => g.map((r) => r.bytes))).toEqual([[100, 300, 600], [2_000], [50, 50]]);
    expect(groups.flat()).toEqual(records);
  });
});
