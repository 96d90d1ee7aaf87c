import { createHash } from 'node:crypto';

/** An undecodable message, kept byte for byte with the reason it was refused. */
export interface DeadLetter {
  partition: number;
  offset: number;
  value: Buffer | null;
  reason: string;
}

/** A dead letter as a Kafka record: keyed by its source position, with what a reader needs in headers. */
export interface DeadLetterRecord {
  letter: DeadLetter;
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
  /** An upper bound of the record's size in a Kafka record batch (v2), framing included. */
  bytes: number;
}

/** Framing of a record batch (v2) around its records. */
export const BATCH_OVERHEAD_BYTES = 61;

// The reason is the decoder's message; a header must not grow with the junk it describes.
const MAX_REASON_CHARS = 1_000;
// Varints (and the timestamp's varlong) never take more than this; counting each at its maximum keeps the estimate an upper bound.
const VARINT_MAX = 5;
const VARLONG_MAX = 10;

/**
 * Builds the record of a dead letter whose record must fit in `maxRecordBytes`. The headers always
 * say the reason, the source position, the original size and SHA-256 of the original value; a value
 * that does not fit is cut to what does, and `value_truncated` says so.
 */
export function deadLetterRecord(sourceTopic: string, letter: DeadLetter, maxRecordBytes: number): DeadLetterRecord {
  const original = letter.value;
  const headers: Record<string, string> = {
    reason: letter.reason.length > MAX_REASON_CHARS ? `${letter.reason.slice(0, MAX_REASON_CHARS)}…` : letter.reason,
    source_topic: sourceTopic,
    source_partition: String(letter.partition),
    source_offset: String(letter.offset),
    original_size: String(original?.length ?? 0),
    sha256: createHash('sha256').update(original ?? Buffer.alloc(0)).digest('hex'),
  };
  const key = `${sourceTopic}/${letter.partition}/${letter.offset}`;
  const whole = recordBytes(key, original?.length ?? 0, headers);
  if (original === null || whole <= maxRecordBytes) return { letter, key, value: original, headers, bytes: whole };
  headers.value_truncated = 'true';
  const framing = recordBytes(key, 0, headers);
  const value = original.subarray(0, Math.max(0, maxRecordBytes - framing));
  return { letter, key, value, headers, bytes: framing + value.length };
}

/** The same letter with its value cut to nothing: only the headers are left to send. */
export function headersOnly(record: DeadLetterRecord): DeadLetterRecord {
  const headers = { ...record.headers, value_truncated: 'true' };
  return { ...record, value: Buffer.alloc(0), headers, bytes: recordBytes(record.key, 0, headers) };
}

/** Splits records into groups whose records sum to at most `maxBytes` (a record bigger than that goes alone). */
export function groupsUnder(records: DeadLetterRecord[], maxBytes: number): DeadLetterRecord[][] {
  const groups: DeadLetterRecord[][] = [];
  let group: DeadLetterRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (group.length > 0 && bytes + r.bytes > maxBytes) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(r);
    bytes += r.bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

// A record in a v2 batch: length, attributes, timestamp and offset deltas, key, value, headers.
function recordBytes(key: string, valueLength: number, headers: Record<string, string>): number {
  let n = VARINT_MAX + 1 + VARLONG_MAX + VARINT_MAX;
  n += VARINT_MAX + Buffer.byteLength(key) + VARINT_MAX + valueLength + VARINT_MAX;
  for (const [k, v] of Object.entries(headers)) n += 2 * VARINT_MAX + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}
