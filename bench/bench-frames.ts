import avsc from 'avsc';
import type { Writable } from 'node:stream';
import { VIEW_EVENT_SCHEMA, encodeViewEvent } from '../schemas/avro-codec.ts';
import type { ViewEvent } from '../schemas/view-event.ts';

/**
 * Binary frames the load generator hands over (a child process's stdout, or a file): each frame
 * is a u16 length and bytes, then one or more u32 lengths and bytes. A frame of the topic holds
 * (key, Avro value); a frame of the freshness pool holds (key, Avro before `ts`, Avro after `ts`),
 * so the producer can stamp the send time into an event without re-encoding it.
 */

const FIELDS = (VIEW_EVENT_SCHEMA as { fields: { name: string }[] }).fields;
const TS_INDEX = FIELDS.findIndex((f) => f.name === 'ts');
const PART = (fields: unknown[], name: string) =>
  avsc.Type.forSchema({ type: 'record', name, namespace: 'viewtally', fields } as avsc.Schema, { omitRecordMethods: true });
// A record's Avro encoding is its fields' encodings in order, so the halves concatenate to the whole.
const schemaFields = (VIEW_EVENT_SCHEMA as { fields: unknown[] }).fields;
const BEFORE_TS = PART(schemaFields.slice(0, TS_INDEX), 'ViewEventHead');
const AFTER_TS = PART(schemaFields.slice(TS_INDEX + 1), 'ViewEventTail');

/** An event encoded around its `ts`: `stampTs(split, t)` gives the Avro value with `ts = t`. */
export interface SplitEvent {
  head: Buffer;
  tail: Buffer;
}

/** Splits a (validated) event's Avro encoding at `ts`. */
export function splitAtTs(e: ViewEvent): SplitEvent {
  encodeViewEvent(e); // validates; the halves carry the same bytes
  return { head: BEFORE_TS.toBuffer(e), tail: AFTER_TS.toBuffer(e) };
}

/** The Avro value of a split event with `ts` set to `ts` (zig-zag varint, exact to 2^53). */
export function stampTs(split: SplitEvent, ts: number): Buffer {
  const out = Buffer.allocUnsafe(split.head.length + 10 + split.tail.length);
  split.head.copy(out, 0);
  let pos = split.head.length;
  let n = ts >= 0 ? ts * 2 : -ts * 2 - 1;
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[pos++] = n;
  split.tail.copy(out, pos);
  return out.subarray(0, pos + split.tail.length);
}

/** Buffers frames and writes them to a stream in large chunks, waiting when the stream is full. */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private readonly out: Writable;

  constructor(out: Writable) {
    this.out = out;
  }

  /** Appends a frame of `first` (u16 length) and `rest` (u32 lengths); resolves at once unless the stream is full. */
  async write(first: Buffer, ...rest: Buffer[]): Promise<void> {
    let size = 2 + first.length;
    for (const r of rest) size += 4 + r.length;
    if (this.pos + size > this.buf.length) await this.flush();
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
    this.pos = this.buf.writeUInt16LE(first.length, this.pos);
    this.pos += first.copy(this.buf, this.pos);
    for (const r of rest) {
      this.pos = this.buf.writeUInt32LE(r.length, this.pos);
      this.pos += r.copy(this.buf, this.pos);
    }
  }

  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const chunk = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    if (!this.out.write(chunk)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }
}

/** Reads frames of `parts` buffers (the first u16-sized) out of arbitrary chunks. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private readonly parts: number;

  constructor(parts: number) {
    this.parts = parts;
  }

  /** The complete frames in `chunk` (with what was left over before); each part is a view of the chunk. */
  push(chunk: Buffer): Buffer[][] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[][] = [];
    let pos = 0;
    for (;;) {
      const frame: Buffer[] = [];
      let p = pos;
      for (let i = 0; i < this.parts; i++) {
        const width = i === 0 ? 2 : 4;
        if (p + width > buf.length) break;
        const len = i === 0 ? buf.readUInt16LE(p) : buf.readUInt32LE(p);
        if (p + width + len > buf.length) break;
        frame.push(buf.subarray(p + width, p + width + len));
        p += width + len;
      }
      if (frame.length < this.parts) break;
      frames.push(frame);
      pos = p;
    }
    this.pending = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return frames;
  }

  /** Bytes of an incomplete frame still waiting (non-zero at the end means a truncated input). */
  get leftover(): number {
    return this.pending.length;
  }
}
