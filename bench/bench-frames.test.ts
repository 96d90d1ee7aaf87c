import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeViewEvent, encodeViewEvent } from '../schemas/avro-codec.ts';
import { MAX_TS_MS, MIN_TS_MS } from '../schemas/event-validation.ts';
import { arbViewEvent } from '../schemas/view-event.arbitrary.ts';
import { FrameReader, FrameWriter, splitAtTs, stampTs } from './bench-frames.ts';

describe('bench frames', () => {
  it('an event split at ts and stamped with a new ts is the event with that ts, byte for byte', () => {
    fc.assert(
      fc.property(arbViewEvent, fc.integer({ min: MIN_TS_MS, max: MAX_TS_MS - 1 }), (e, ts) => {
        const stamped = stampTs(splitAtTs(e), ts);
        expect(stamped.equals(encodeViewEvent({ ...e, ts }))).toBe(true);
        expect(decodeViewEvent(stamped).ts).toBe(ts);
      }),
      { numRuns: 300 },
    );
  });

  it('frames written in any chunking are read back whole and in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 50 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        async (frames, chunk) => {
          const out = new PassThrough();
          const bytes: Buffer[] = [];
          out.on('data', (d: Buffer) => bytes.push(d));
          const writer = new FrameWriter(out);
          for (const [a, b, c] of frames) await writer.write(Buffer.from(a), Buffer.from(b), Buffer.from(c));
          await writer.flush();
          const all = Buffer.concat(bytes);
          const reader = new FrameReader(3);
          const read: Buffer[][] = [];
          for (let i = 0; i < all.length; i += chunk) read.push(...reader.push(all.subarray(i, i + chunk)));
          expect(reader.leftover).toBe(0);
          expect(read.map((f) => f.map((b) => [...b]))).toEqual(frames.map((f) => f.map((b) => [...b])));
        },
      ),
      { numRuns: 100 },
    );
  });
});
