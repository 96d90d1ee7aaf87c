import { describe, expect, it } from 'vitest';
import { AddressMessage, AddressRecordWriter, addressPartition, MAX_FLAGS, MAX_RECORDS, RECORD_BAND, RECORD_DATACENTER, splitVerdicts, VerdictMessage, VerdictWriter } from './address-messages.ts';

describe('by-address and verdict messages', () => {
  it('carry each record to the address partition of its key, then the marker', () => {
    const w = new AddressRecordWriter(3);
    const keys = [0x11, 0x22, 0x33, 0x44, 0x55].map((lo) => [lo * 7, lo] as const);
    keys.forEach(([hi, lo], i) => w.add(100 + i, 1_000 + i, hi, lo, 9, 10 + i, i % 2 ? RECORD_BAND : RECORD_DATACENTER));
    const messages = w.take(5, 995, false);
    expect(messages.map((m) => m.partition)).toEqual([0, 1, 2]);
    const m = new AddressMessage();
    const seen: string[] = [];
    for (const { partition, value } of messages) {
      m.load(value);
      expect([m.sourcePartition, m.watermark, m.idle]).toEqual([5, 995, false]);
      for (let i = 0; i < m.count; i++) {
        expect(addressPartition(m.word(i, 1), 3)).toBe(partition);
        seen.push(`${m.offset(i)}@${m.ts(i)}:${m.word(i, 0)}/${m.word(i, 1)}:${m.word(i, 2)}/${m.word(i, 3)}:${m.flags(i)}`);
      }
    }
    expect(seen.sort()).toEqual(keys.map(([hi, lo], i) => `${100 + i}@${1_000 + i}:${hi}/${lo}:9/${10 + i}:${i % 2 ? RECORD_BAND : RECORD_DATACENTER}`).sort());
    // taken: the next flush carries only its marker
    expect(w.take(5, 996, true).map(({ value }) => [m.load(value).count, m.watermark, m.idle])).toEqual([
      [0, 996, true],
      [0, 996, true],
      [0, 996, true],
    ]);
  });

  it('split a flush held back by an outage into messages under Kafka’s size limit, the marker on the last', () => {
    const w = new AddressRecordWriter(1);
    const n = 2 * MAX_RECORDS + 5;
    for (let i = 0; i < n; i++) w.add(i, i, 1, 2, 3, 4, 0);
    const m = new AddressMessage();
    const messages = w.take(0, 777, false).map(({ value }) => (m.load(value), { count: m.count, watermark: m.watermark, first: m.offset(0), bytes: value.length }));
    expect(messages.map((x) => [x.count, x.watermark, x.first])).toEqual([
      [MAX_RECORDS, Number.NEGATIVE_INFINITY, 0],
      [MAX_RECORDS, Number.NEGATIVE_INFINITY, MAX_RECORDS],
      [5, 777, 2 * MAX_RECORDS],
    ]);
    expect(Math.max(...messages.map((x) => x.bytes))).toBeLessThan(1 << 20);
  });

  it('split a flood of flags into messages under Kafka’s size limit, the verdict watermark on the last, the flags in order', () => {
    const w = new VerdictWriter();
    for (let i = 0; i < 2 * MAX_FLAGS + 3; i++) w.add(i, i + 1, 60_000 * i, 1, 1);
    const whole = w.take(2, 999_000);
    expect(splitVerdicts(w.take(2, 5))).toHaveLength(1); // an ordinary message goes as it is
    const v = new VerdictMessage();
    const parts = splitVerdicts(whole).map((b) => (v.load(b), { partition: v.addressPartition, watermark: v.watermark, count: v.count, first: v.addressHi(0), last: v.addressLo(v.count - 1), bytes: b.length }));
    expect(parts.map(({ bytes: _, ...p }) => p)).toEqual([
      { partition: 2, watermark: Number.NEGATIVE_INFINITY, count: MAX_FLAGS, first: 0, last: MAX_FLAGS },
      { partition: 2, watermark: Number.NEGATIVE_INFINITY, count: MAX_FLAGS, first: MAX_FLAGS, last: 2 * MAX_FLAGS },
      { partition: 2, watermark: 999_000, count: 3, first: 2 * MAX_FLAGS, last: 2 * MAX_FLAGS + 3 },
    ]);
    expect(Math.max(...parts.map((p) => p.bytes))).toBeLessThan(1 << 20);
  });

  it('carry flags and the verdict watermark, and refuse a message of another format', () => {
    const w = new VerdictWriter();
    w.add(1, 2, 60_000, 8, 1.5);
    w.add(3, 4, 120_000, 9, 2);
    const v = new VerdictMessage().load(w.take(7, 180_000));
    expect([v.addressPartition, v.watermark, v.count]).toEqual([7, 180_000, 2]);
    expect([0, 1].map((i) => [v.addressHi(i), v.addressLo(i), v.start(i), v.signals(i), v.score(i)])).toEqual([
      [1, 2, 60_000, 8, 1.5],
      [3, 4, 120_000, 9, 2],
    ]);
    expect(v.intervalMs).toBe(30_000);
    // a message written before verdict steps (version 1) has the same layout, its flags for minutes
    const old = w.take(7, 180_000);
    old[0] = 1;
    expect(new VerdictMessage().load(old).intervalMs).toBe(60_000);
    old[0] = 3;
    expect(() => new VerdictMessage().load(old)).toThrow(/not an address-verdict message .*version 3/);
    expect(() => new VerdictMessage().load(Buffer.from('not a verdict'))).toThrow(/not an address-verdict message/);
    expect(() => new AddressMessage().load(Buffer.alloc(30))).toThrow(/not a by-address message/);
  });
});
