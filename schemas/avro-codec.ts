import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import { InvalidEventError } from './errors.ts';
import { validateViewEvent } from './event-validation.ts';
import type { ViewEvent } from './view-event.ts';

/** The Avro schema of a view event, as read from `view-event.avsc`. */
export const VIEW_EVENT_SCHEMA: avsc.Schema = JSON.parse(
  readFileSync(new URL('./view-event.avsc', import.meta.url), 'utf8'),
);

/**
 * The compiled Avro type, built once. No logical types are registered, so `ts`
 * (timestamp-millis) decodes to a plain number of ms rather than a `Date`, and
 * record methods are omitted so decoded events carry only their fields.
 */
export const VIEW_EVENT_TYPE = avsc.Type.forSchema(VIEW_EVENT_SCHEMA, { omitRecordMethods: true });

const FIELDS = (VIEW_EVENT_TYPE as avsc.types.RecordType).fields;
const LENGTH_PREFIX = avsc.Type.forSchema('long');

/** First byte of a Confluent Schema Registry frame. */
export const CONFLUENT_MAGIC = 0;
/** Bytes before the Avro body in a Confluent frame: magic byte + 4-byte big-endian schema id. */
export const CONFLUENT_HEADER_LENGTH = 5;

/**
 * How `decodeViewEvent` finds the Avro body. `auto` (the default) reads a
 * Confluent frame when byte 0 is 0x00 and plain Avro otherwise. The rule is
 * exact for valid events, not a guess: plain Avro starts with the zig-zag
 * varint length of `event_id`, and 0x00 there would mean an empty `event_id`,
 * which validation rejects anyway. Nothing is decoded twice; use `avro` or
 * `confluent` to pin the framing of a topic.
 */
export type AvroFraming = 'auto' | 'avro' | 'confluent';

/** Options of `decodeViewEvent`. */
export interface DecodeOptions {
  /** Framing rule; default `auto`. */
  framing?: AvroFraming;
  /** When set, Confluent frames carrying another schema id are rejected (the body is always read with this schema). */
  schemaId?: number;
  /** Run `validateViewEvent` on the result; default true. */
  validate?: boolean;
}

/** Options of `encodeViewEvent` and `encodeConfluent`. */
export interface EncodeOptions {
  /** Run `validateViewEvent` first so no unreadable or invalid event is produced; default true. */
  validate?: boolean;
}

/** Encodes an event as a plain Avro body (no framing); throws {@link InvalidEventError} naming the field for a bad event. */
export function encodeViewEvent(e: ViewEvent, options?: EncodeOptions): Buffer {
  if (options?.validate !== false) validateViewEvent(e);
  try {
    return VIEW_EVENT_TYPE.toBuffer(e);
  } catch (err) {
    throw explainEncodeFailure(e, err);
  }
}

/** Encodes an event in Confluent wire format: 0x00, the schema id as 4 bytes big-endian, then the Avro body. */
export function encodeConfluent(e: ViewEvent, schemaId: number, options?: EncodeOptions): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new RangeError(`schema id must be an integer in 0..2147483647, got ${schemaId}`);
  }
  const body = encodeViewEvent(e, options);
  const out = Buffer.allocUnsafe(CONFLUENT_HEADER_LENGTH + body.length);
  out[0] = CONFLUENT_MAGIC;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, CONFLUENT_HEADER_LENGTH);
  return out;
}

/** The schema id of a Confluent frame, or null when the bytes are not one (see {@link AvroFraming}). */
export function readConfluentSchemaId(buf: Uint8Array): number | null {
  if (buf.length < CONFLUENT_HEADER_LENGTH || buf[0] !== CONFLUENT_MAGIC) return null;
  return ((buf[1] << 24) >>> 0) + (buf[2] << 16) + (buf[3] << 8) + buf[4];
}

/**
 * Decodes a plain Avro or Confluent-framed event (see {@link AvroFraming}) and,
 * unless `validate: false`, validates it. Any failure is an
 * {@link InvalidEventError} naming the field, or saying "truncated" / "trailing bytes".
 */
export function decodeViewEvent(bytes: Uint8Array, options?: DecodeOptions): ViewEvent {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const framing = options?.framing ?? 'auto';
  const start = framing === 'confluent' || (framing === 'auto' && buf[0] === CONFLUENT_MAGIC)
    ? readConfluentHeader(buf, options?.schemaId)
    : 0;
  let event: ViewEvent | undefined;
  try {
    const decoded = VIEW_EVENT_TYPE.decode(buf, start);
    if (decoded.offset === buf.length) event = decoded.value;
  } catch {
    // avsc's messages name no field; the slow path below finds it.
  }
  if (event === undefined) throw explainDecodeFailure(buf, start);
  if (options?.validate !== false) validateViewEvent(event);
  return event;
}

/** Checks the 5-byte frame header; a broken header is no field's fault, so only a wrong id names one (`schema_id`). */
function readConfluentHeader(buf: Buffer, expectedSchemaId: number | undefined): number {
  if (buf.length < CONFLUENT_HEADER_LENGTH) {
    throw new InvalidEventError(
      `Confluent header: truncated (${buf.length} of ${CONFLUENT_HEADER_LENGTH} bytes)`,
    );
  }
  if (buf[0] !== CONFLUENT_MAGIC) {
    throw new InvalidEventError(`Confluent header: magic byte is 0x${buf[0].toString(16).padStart(2, '0')}, expected 0x00`);
  }
  if (expectedSchemaId !== undefined) {
    const id = buf.readUInt32BE(1);
    if (id !== expectedSchemaId) {
      throw new InvalidEventError(`schema_id: message was written with schema id ${id}, this decoder reads ${expectedSchemaId}`, 'schema_id');
    }
  }
  return CONFLUENT_HEADER_LENGTH;
}

/** Slow path, only after a failed decode: walks the fields one by one to name the one that broke. */
function explainDecodeFailure(buf: Buffer, start: number): InvalidEventError {
  const framing = start === 0 ? 'plain Avro' : 'Confluent-framed Avro';
  if (buf.length === start) {
    return new InvalidEventError(`${FIELDS[0].name}: truncated ${framing} (empty body)`, FIELDS[0].name);
  }
  let pos = start;
  for (const field of FIELDS) {
    let decoded: { value: unknown; offset: number };
    try {
      decoded = field.type.decode(buf, pos);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return new InvalidEventError(`${field.name}: undecodable ${framing} (${reason}) at byte ${pos}`, field.name, err);
    }
    if (decoded.offset < 0) {
      const length = field.type.typeName === 'string' ? peekLength(buf, pos) : 0;
      const problem = length < 0
        ? `undecodable ${framing} (negative string length ${length}) at byte ${pos}`
        : `truncated ${framing} (message ends inside this field; ${buf.length} bytes)`;
      return new InvalidEventError(`${field.name}: ${problem}`, field.name);
    }
    pos = decoded.offset;
  }
  if (pos < buf.length) {
    return new InvalidEventError(
      `trailing bytes: ${buf.length - pos} bytes after the end of the ${framing} record (${buf.length} bytes)`,
    );
  }
  return new InvalidEventError(`undecodable ${framing} record (${buf.length} bytes)`);
}

/** The varint at `pos` as a number; only its sign matters here, so a value past 2^53 reads as +Infinity. */
function peekLength(buf: Buffer, pos: number): number {
  try {
    return LENGTH_PREFIX.decode(buf, pos).value as number;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Slow path, only after a failed encode: names the first field whose value the Avro type refuses. */
function explainEncodeFailure(e: ViewEvent, cause: unknown): InvalidEventError {
  const record = e as unknown as Record<string, unknown>;
  for (const field of FIELDS) {
    const value = record[field.name];
    if (!field.type.isValid(value)) {
      const shown = value === undefined ? 'undefined' : JSON.stringify(value)?.slice(0, 64);
      return new InvalidEventError(`${field.name}: cannot encode ${shown} as Avro ${describeType(field.type)}`, field.name, cause);
    }
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new InvalidEventError(`cannot encode event as Avro: ${reason}`, undefined, cause);
}

function describeType(type: avsc.Type): string {
  if (type.typeName === 'enum') return `enum ${type.name} (${(type as avsc.types.EnumType).symbols.join(', ')})`;
  return JSON.stringify(type.schema());
}
