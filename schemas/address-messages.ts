import { VERDICT_STEP_MS } from './verdict-step.ts';
import { BinaryWriter } from './binary-writer.ts';

/**
 * The two internal topics of the address stage, in binary (little-endian):
 *
 * `<topic>.by-address` — what a source partition sends one address partition at a live flush:
 *   u8 version (1), u32 source partition, f64 source watermark, u8 idle, u32 count, then `count`
 *   records of RECORD_BYTES: f64 offset, f64 event time, u32 ×2 address key, u32 ×2 video
 *   fingerprint, u8 flags (RECORD_BAND, RECORD_LATE, RECORD_DATACENTER). The watermark is the
 *   marker: it applies after the message's records. (No viewer key: no address signal reads one.)
 *
 * `<topic>.address-verdicts` — what an address partition decided when its watermark passed verdict steps:
 *   u8 version (2), u32 address partition, f64 verdict watermark, u32 count, then `count` flags of
 *   FLAG_BYTES: u32 ×2 address key, f64 interval start (ms), u8 signals (bits of BOT_SIGNALS), f32 score.
 *   Every flag of an interval that ends at or before the verdict watermark is in this message or an earlier one.
 *   The interval is a verdict step (schemas/verdict-step.ts); in version 1, written before there
 *   were steps, it is a minute, and its flag covers the minute before.
 */
export const RECORD_BYTES = 33;
export const FLAG_BYTES = 21;
const RECORD_VERSION = 1;
const VERDICT_VERSION = 2;
/** The verdict messages written before verdict steps: the same layout, flags per minute. */
const MINUTE_VERDICT_VERSION = 1;
/** The interval of a flag in a version 1 verdict message. */
const MINUTE_INTERVAL_MS = 60_000;
const RECORD_HEADER = 1 + 4 + 8 + 1 + 4;
/** Records per by-address message at most (~530 kB, well under Kafka's default 1 MB). */
export const MAX_RECORDS = 16_384;
const VERDICT_HEADER = 1 + 4 + 8 + 4;

/** Record flag: the watch time stopped just past the view threshold (the watch-pattern band). */
export const RECORD_BAND = 1;
/** Record flag: the event was older than its source partition's watermark when written; it counts for nothing. */
export const RECORD_LATE = 2;
/** Record flag: the address is in a datacenter range. */
export const RECORD_DATACENTER = 4;

/**
 * The internal topic of records keyed by address. Named by the job's group as well as its source
 * (as Kafka Streams names repartition topics by application id): two jobs on one topic, e.g. a
 * new deployment beside the old one, must not judge addresses from each other's records.
 */
export function byAddressTopic(topic: string, group: string): string {
  return `${topic}.${group}.by-address`;
}

/** The internal topic of a job's address verdicts (named as {@link byAddressTopic}). */
export function addressVerdictsTopic(topic: string, group: string): string {
  return `${topic}.${group}.address-verdicts`;
}

/** The address partition of an address key. */
export function addressPartition(addressLo: number, partitions: number): number {
  return (addressLo >>> 0) % partitions;
}

/** What one flush of a source partition sends: messages, each with the address partition it goes to. */
export type AddressFlush = Array<{ partition: number; value: Buffer }>;

/** One source partition's records for each address partition, gathered between two flushes. */
export class AddressRecordWriter {
  // per address partition: its records' bytes so far, and how many
  private readonly bufs: Buffer[];
  private readonly views: DataView[];
  private readonly counts: Uint32Array;

  constructor(readonly partitions: number) {
    this.bufs = Array.from({ length: partitions }, () => Buffer.allocUnsafe(64 * RECORD_BYTES));
    this.views = this.bufs.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    this.counts = new Uint32Array(partitions);
  }

  /** Records gathered. */
  get records(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  /** Adds one record for the address partition of its address key. */
  add(offset: number, ts: number, addressHi: number, addressLo: number, videoHi: number, videoLo: number, flags: number): void {
    const q = addressPartition(addressLo, this.partitions);
    const at = this.counts[q] * RECORD_BYTES;
    if (at + RECORD_BYTES > this.bufs[q].length) {
      const bigger = Buffer.allocUnsafe(2 * this.bufs[q].length);
      this.bufs[q].copy(bigger, 0, 0, at);
      this.bufs[q] = bigger;
      this.views[q] = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
    }
    const v = this.views[q];
    v.setFloat64(at, offset, true);
    v.setFloat64(at + 8, ts, true);
    v.setUint32(at + 16, addressHi, true);
    v.setUint32(at + 20, addressLo, true);
    v.setUint32(at + 24, videoHi, true);
    v.setUint32(at + 28, videoLo, true);
    v.setUint8(at + 32, flags);
    this.counts[q]++;
  }

  /**
   * This flush's messages, each with its address partition: the records gathered for it, then the
   * marker. Beyond MAX_RECORDS records (a flush held back by an outage) the first ones go in
   * messages of their own carrying no mark (-Infinity: the address stage keeps the highest), so no
   * message nears Kafka's size limit. The writer starts over.
   */
  take(sourcePartition: number, watermark: number, idle: boolean): AddressFlush {
    const messages: AddressFlush = [];
    this.bufs.forEach((records, q) => {
      const n = this.counts[q];
      for (let from = 0; ; from += MAX_RECORDS) {
        const last = n - from <= MAX_RECORDS;
        const count = last ? n - from : MAX_RECORDS;
        const m = Buffer.allocUnsafe(RECORD_HEADER + count * RECORD_BYTES);
        m.writeUInt8(RECORD_VERSION, 0);
        m.writeUInt32LE(sourcePartition, 1);
        m.writeDoubleLE(last ? watermark : Number.NEGATIVE_INFINITY, 5);
        m.writeUInt8(last && idle ? 1 : 0, 13);
        m.writeUInt32LE(count, 14);
        records.copy(m, RECORD_HEADER, from * RECORD_BYTES, (from + count) * RECORD_BYTES);
        messages.push({ partition: q, value: m });
        if (last) break;
      }
      this.counts[q] = 0;
    });
    return messages;
  }
}

/** A by-address message read in place: its header, and record `i`'s fields through the accessors. */
export class AddressMessage {
  sourcePartition = 0;
  watermark = 0;
  idle = false;
  count = 0;
  private buf: Buffer = Buffer.alloc(0);

  /** Reads a message's header; throws on a message of another format. */
  load(buf: Buffer): this {
    if (buf.length < RECORD_HEADER || buf[0] !== RECORD_VERSION) throw new RangeError(`not a by-address message (${buf.length} bytes, version ${buf[0]})`);
    this.buf = buf;
    this.sourcePartition = buf.readUInt32LE(1);
    this.watermark = buf.readDoubleLE(5);
    this.idle = buf[13] === 1;
    this.count = buf.readUInt32LE(14);
    if (buf.length !== RECORD_HEADER + this.count * RECORD_BYTES) throw new RangeError(`a by-address message of ${buf.length} bytes cannot hold ${this.count} records`);
    return this;
  }

  offset(i: number): number {
    return this.buf.readDoubleLE(RECORD_HEADER + i * RECORD_BYTES);
  }

  ts(i: number): number {
    return this.buf.readDoubleLE(RECORD_HEADER + i * RECORD_BYTES + 8);
  }

  /** Word `k` (0 address hi, 1 address lo, 2 video hi, 3 video lo) of record `i`. */
  word(i: number, k: number): number {
    return this.buf.readUInt32LE(RECORD_HEADER + i * RECORD_BYTES + 16 + 4 * k);
  }

  flags(i: number): number {
    return this.buf[RECORD_HEADER + i * RECORD_BYTES + 32];
  }
}

/** Flags of one address partition, gathered until its next verdict message. */
export class VerdictWriter {
  private readonly w = new BinaryWriter(1024);
  private count = 0;

  get flags(): number {
    return this.count;
  }

  add(addressHi: number, addressLo: number, start: number, signals: number, score: number): void {
    this.w.u32(addressHi);
    this.w.u32(addressLo);
    this.w.f64(start);
    this.w.u8(signals);
    this.w.f32(score);
    this.count++;
  }

  /** The message: the flags gathered, then the verdict watermark; the writer starts over. */
  take(addressPartition: number, verdictWatermark: number): Buffer {
    const m = Buffer.allocUnsafe(VERDICT_HEADER + this.w.length);
    m.writeUInt8(VERDICT_VERSION, 0);
    m.writeUInt32LE(addressPartition, 1);
    m.writeDoubleLE(verdictWatermark, 5);
    m.writeUInt32LE(this.count, 13);
    this.w.view().copy(m, VERDICT_HEADER);
    this.w.reset();
    this.count = 0;
    return m;
  }
}

/** Flags per verdict message sent at most (~690 kB: a request's record batch stays under Kafka's default 1 MB). */
export const MAX_FLAGS = 32_768;

/**
 * A verdict message (VerdictWriter.take) as messages of at most MAX_FLAGS flags each, in order,
 * the verdict watermark on the last: the others carry -Infinity (a reader keeps the highest), so
 * none says an interval is final before all its flags are read. One message is left as it is.
 */
export function splitVerdicts(message: Buffer, maxFlags = MAX_FLAGS): Buffer[] {
  const count = message.readUInt32LE(13);
  if (count <= maxFlags) return [message];
  const parts: Buffer[] = [];
  for (let from = 0; from < count; from += maxFlags) {
    const n = Math.min(maxFlags, count - from);
    const part = Buffer.allocUnsafe(VERDICT_HEADER + n * FLAG_BYTES);
    message.copy(part, 0, 0, 5);
    part.writeDoubleLE(from + n === count ? message.readDoubleLE(5) : Number.NEGATIVE_INFINITY, 5);
    part.writeUInt32LE(n, 13);
    message.copy(part, VERDICT_HEADER, VERDICT_HEADER + from * FLAG_BYTES, VERDICT_HEADER + (from + n) * FLAG_BYTES);
    parts.push(part);
  }
  return parts;
}

/** A verdict message read in place. */
export class VerdictMessage {
  addressPartition = 0;
  watermark = 0;
  count = 0;
  /** The length of its flags' intervals (ms): a verdict step, or a minute in a version 1 message. */
  intervalMs = VERDICT_STEP_MS;
  private buf: Buffer = Buffer.alloc(0);

  load(buf: Buffer): this {
    if (buf.length < VERDICT_HEADER || (buf[0] !== VERDICT_VERSION && buf[0] !== MINUTE_VERDICT_VERSION)) throw new RangeError(`not an address-verdict message (${buf.length} bytes, version ${buf[0]})`);
    this.buf = buf;
    this.intervalMs = buf[0] === MINUTE_VERDICT_VERSION ? MINUTE_INTERVAL_MS : VERDICT_STEP_MS;
    this.addressPartition = buf.readUInt32LE(1);
    this.watermark = buf.readDoubleLE(5);
    this.count = buf.readUInt32LE(13);
    if (buf.length !== VERDICT_HEADER + this.count * FLAG_BYTES) throw new RangeError(`an address-verdict message of ${buf.length} bytes cannot hold ${this.count} flags`);
    return this;
  }

  addressHi(i: number): number {
    return this.buf.readUInt32LE(VERDICT_HEADER + i * FLAG_BYTES);
  }

  addressLo(i: number): number {
    return this.buf.readUInt32LE(VERDICT_HEADER + i * FLAG_BYTES + 4);
  }

  /** Where flag `i`'s interval starts (ms). */
  start(i: number): number {
    return this.buf.readDoubleLE(VERDICT_HEADER + i * FLAG_BYTES + 8);
  }

  signals(i: number): number {
    return this.buf[VERDICT_HEADER + i * FLAG_BYTES + 16];
  }

  score(i: number): number {
    return this.buf.readFloatLE(VERDICT_HEADER + i * FLAG_BYTES + 17);
  }
}
