import avsc from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from './errors.ts';
import {
  CONFLUENT_HEADER_LENGTH, VIEW_EVENT_SCHEMA, decodeViewEvent, encodeConfluent, encodeViewEvent, readConfluentSchemaId,
} from './avro-codec.ts';
import { validateViewEvent } from './event-validation.ts';
import { arbViewEvent, sampleViewEvent } from './view-event.arbitrary.ts';
import { DEVICES, TRAFFIC_SOURCES, type ViewEvent } from './view-event.ts';

const arbSchemaId = fc.integer({ min: 0, max: 0x7fffffff });

function caught(fn: () => unknown): InvalidEventError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidEventError);
    return err as InvalidEventError;
  }
  throw new Error('expected an InvalidEventError, nothing was thrown');
}

/** Bytes written by a variant of the schema in which one field has another type: the way to forge bad input. */
function encodeWithFieldType(field: string, type: avsc.Schema, value: unknown): Buffer {
  const schema = structuredClone(VIEW_EVENT_SCHEMA) as { fields: { name: string; type: unknown }[] };
  for (const f of schema.fields) {
    if (f.name !== field) continue;
    f.type = type;
    delete (f as { default?: unknown }).default;
  }
  const writer = avsc.Type.forSchema(schema as avsc.Schema, { registry: {} });
  return writer.toBuffer({ ...sampleViewEvent(), [field]: value });
}

describe('view-event.avsc', () => {
  it('has the contract fields in contract order, enums matching the TS constants', () => {
    const schema = VIEW_EVENT_SCHEMA as { name: string; namespace: string; fields: { name: string; type: any }[] };
    expect(`${schema.namespace}.${schema.name}`).toBe('viewtally.ViewEvent');
    expect(schema.fields.map((f) => f.name)).toEqual(Object.keys(sampleViewEvent()));
    const typeOf = (name: string) => schema.fields.find((f) => f.name === name)?.type;
    for (const name of ['viewer_id', 'owner_id', 'ja3']) expect(typeOf(name)).toEqual(['null', 'string']);
    expect(typeOf('video_duration_ms')).toEqual(['null', 'long']);
    expect(typeOf('ts')).toEqual({ type: 'long', logicalType: 'timestamp-millis' });
    expect(typeOf('device').symbols).toEqual([...DEVICES]);
    expect(typeOf('traffic_source').symbols).toEqual([...TRAFFIC_SOURCES]);
  });
});

describe('encodeViewEvent / decodeViewEvent', () => {
  it('round-trips every valid event unchanged (2000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, (e) => {
        const decoded = decodeViewEvent(encodeViewEvent(e));
        expect({ ...decoded }).toEqual(e);
        expect(Object.keys(decoded)).toEqual(Object.keys(e));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes ts as a number of ms, not a Date', () => {
    const decoded = decodeViewEvent(encodeViewEvent(sampleViewEvent()));
    expect(typeof decoded.ts).toBe('number');
    expect(decoded.ts).toBe(Date.UTC(2024, 5, 1, 12));
  });

  it('never starts a plain encoding of a valid event with 0x00, which is what makes framing detection exact (2000 runs)', () => {
    fc.assert(fc.property(arbViewEvent, (e) => encodeViewEvent(e)[0] !== 0), { numRuns: 2000 });
  });

  it('accepts a Uint8Array that is not a Buffer', () => {
    const bytes = new Uint8Array(encodeViewEvent(sampleViewEvent()));
    expect({ ...decodeViewEvent(bytes) }).toEqual(sampleViewEvent());
  });

  it('rejects every strict prefix of a valid encoding as truncated, naming a field (100 events, all prefixes)', async () => {
    await fc.assert(
      fc.asyncProperty(arbViewEvent, async (e) => {
        // Yield between events: a worker blocked for a minute misses vitest's RPC deadline on a loaded machine.
        await new Promise((resolve) => setImmediate(resolve));
        const bytes = encodeViewEvent(e);
        for (let n = 0; n < bytes.length; n++) {
          const err = caught(() => decodeViewEvent(bytes.subarray(0, n)));
          expect(err.message).toMatch(/^\w+: truncated plain Avro/);
          expect(err.message.startsWith(`${err.field}: `)).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a valid encoding followed by extra bytes as trailing bytes (1000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, fc.uint8Array({ minLength: 1, maxLength: 16 }), (e, extra) => {
        const bytes = Buffer.concat([encodeViewEvent(e), extra]);
        const err = caught(() => decodeViewEvent(bytes));
        expect(err.message).toContain(`trailing bytes: ${extra.length} bytes after the end of the plain Avro record`);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the field of an undecodable enum index, union index, long or string length', () => {
    const device = caught(() => decodeViewEvent(encodeWithFieldType('device', 'long', 9)));
    expect(device.field).toBe('device');
    expect(device.message).toMatch(/^device: undecodable plain Avro \(invalid viewtally\.Device enum index: 9\)/);

    const viewer = caught(() => decodeViewEvent(encodeWithFieldType('viewer_id', 'long', 2)));
    expect(viewer.message).toMatch(/^viewer_id: undecodable plain Avro \(invalid union index: 2\)/);

    const hugeVarint = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const watch = caught(() => decodeViewEvent(encodeWithFieldType('watch_ms', { type: 'fixed', name: 'Raw', size: 10 }, hugeVarint)));
    expect(watch.message).toMatch(/^watch_ms: undecodable plain Avro \(potential precision loss\)/);

    const negative = caught(() => decodeViewEvent(Buffer.from([0x01, 0x41])));
    expect(negative.message).toMatch(/^event_id: undecodable plain Avro \(negative string length -1\)/);
  });

  it('says truncated for an empty message', () => {
    const err = caught(() => decodeViewEvent(Buffer.alloc(0)));
    expect(err.field).toBe('event_id');
    expect(err.message).toBe('event_id: truncated plain Avro (empty body)');
  });

  it('validates after decoding unless told not to', () => {
    const bad = { ...sampleViewEvent(), country: 'de' };
    const bytes = encodeViewEvent(bad, { validate: false });
    expect(caught(() => decodeViewEvent(bytes)).message).toMatch(/^country: /);
    expect(decodeViewEvent(bytes, { validate: false }).country).toBe('de');
  });

  it('refuses to encode an invalid event, naming the field', () => {
    expect(caught(() => encodeViewEvent({ ...sampleViewEvent(), ts: 1.5 })).field).toBe('ts');
    const device = caught(() => encodeViewEvent({ ...sampleViewEvent(), device: 'phablet' as never }));
    expect(device.message).toMatch(/^device: unknown value "phablet"/);
  });

  it('names the field Avro refuses when validation is off', () => {
    const encode = (patch: Record<string, unknown>) =>
      caught(() => encodeViewEvent({ ...sampleViewEvent(), ...patch } as ViewEvent, { validate: false }));
    expect(encode({ device: 'phablet' }).message).toBe(
      'device: cannot encode "phablet" as Avro enum viewtally.Device (desktop, mobile, tablet, tv, console, other)',
    );
    expect(encode({ watch_ms: 1.5 }).message).toBe('watch_ms: cannot encode 1.5 as Avro "long"');
    expect(encode({ video_id: undefined }).message).toBe('video_id: cannot encode undefined as Avro "string"');
    expect(encode({ ja3: 5 }).message).toBe('ja3: cannot encode 5 as Avro ["null","string"]');
    expect(encode({ event_id: 7 }).field).toBe('event_id');
  });
});

describe('Confluent wire format', () => {
  it('round-trips with magic byte 0 and a big-endian schema id (2000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, arbSchemaId, (e, id) => {
        const framed = encodeConfluent(e, id);
        expect(framed[0]).toBe(0);
        expect(framed.readUInt32BE(1)).toBe(id);
        expect(framed.subarray(CONFLUENT_HEADER_LENGTH)).toEqual(encodeViewEvent(e));
        expect(readConfluentSchemaId(framed)).toBe(id);
        expect({ ...decodeViewEvent(framed) }).toEqual(e);
        expect({ ...decodeViewEvent(framed, { framing: 'confluent', schemaId: id }) }).toEqual(e);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads no schema id from plain Avro', () => {
    expect(readConfluentSchemaId(encodeViewEvent(sampleViewEvent()))).toBeNull();
    expect(readConfluentSchemaId(Buffer.from([0, 0, 0]))).toBeNull();
  });

  it('rejects a truncated header, a wrong magic byte and an unexpected schema id', () => {
    for (const n of [1, 2, 3, 4]) {
      const err = caught(() => decodeViewEvent(Buffer.alloc(n)));
      expect(err.message).toBe(`Confluent header: truncated (${n} of 5 bytes)`);
      expect(err.field).toBeUndefined();
    }
    const plain = encodeViewEvent(sampleViewEvent());
    expect(caught(() => decodeViewEvent(plain, { framing: 'confluent' })).message).toMatch(
      /^Confluent header: magic byte is 0x[0-9a-f]{2}, expected 0x00$/,
    );
    const framed = encodeConfluent(sampleViewEvent(), 7);
    const mismatch = caught(() => decodeViewEvent(framed, { schemaId: 8 }));
    expect(mismatch.message).toBe('schema_id: message was written with schema id 7, this decoder reads 8');
    expect(mismatch.field).toBe('schema_id');
    expect(caught(() => decodeViewEvent(framed, { framing: 'avro' }))).toBeInstanceOf(InvalidEventError);
  });

  it('reports a header-only frame, truncated bodies and trailing bytes as such', () => {
    expect(caught(() => decodeViewEvent(Buffer.from([0, 0, 0, 0, 1]))).message).toBe(
      'event_id: truncated Confluent-framed Avro (empty body)',
    );
    const framed = encodeConfluent(sampleViewEvent(), 42);
    for (let n = CONFLUENT_HEADER_LENGTH + 1; n < framed.length; n++) {
      expect(caught(() => decodeViewEvent(framed.subarray(0, n))).message).toMatch(/^\w+: truncated Confluent-framed Avro/);
    }
    const longer = Buffer.concat([framed, Buffer.from([0])]);
    expect(caught(() => decodeViewEvent(longer)).message).toMatch(/^trailing bytes: 1 bytes after the end/);
  });

  it('refuses a schema id outside a signed 32-bit positive range', () => {
    for (const id of [-1, 1.5, 2 ** 31, Number.NaN]) expect(() => encodeConfluent(sampleViewEvent(), id)).toThrow(RangeError);
  });
});

describe('decodeViewEvent fuzz', () => {
  const decodesOrThrowsInvalid = (bytes: Uint8Array): void => {
    let event: ViewEvent;
    try {
      event = decodeViewEvent(Buffer.from(bytes));
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      expect(err.message.length).toBeGreaterThan(0);
      if (err.field !== undefined) expect(err.message.startsWith(`${err.field}: `)).toBe(true);
      else expect(err.message).toMatch(/^(trailing bytes|Confluent header): /);
      return;
    }
    expect(() => validateViewEvent(event)).not.toThrow();
  };

  it('throws nothing but InvalidEventError on arbitrary bytes (10000 runs)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), decodesOrThrowsInvalid), { numRuns: 10_000 });
  });

  it('throws nothing but InvalidEventError on corrupted valid encodings (5000 runs)', () => {
    const corrupted = fc
      .tuple(arbViewEvent, fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([e, framed, edits]) => {
        const bytes = framed ? encodeConfluent(e, 1) : encodeViewEvent(e);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        return bytes;
      });
    fc.assert(fc.property(corrupted, decodesOrThrowsInvalid), { numRuns: 5000 });
  });
});
