import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { CheckpointFormatError } from './sink-errors.ts';
import { isLegacyBlock, legacyBlock, legacyPendingPrefix } from './legacy-block.ts';

/**
 * Everything a partition sends ClickHouse at one checkpoint, as RowBinary rows per table (see
 * schemas/clickhouse-rows.ts), under one deterministic token derived from (group, topic,
 * partition, offset range): re-inserting it after a crash is a no-op.
 */
export interface ClickHouseBlock {
  token: string;
  /** Rows of `views_minute_rows`, or, in a block viewtally 0.1 left pending, of its `views_minute_in` (viewers as key strings). */
  views: Buffer;
  viewsTable?: 'views_minute_in';
  /** Rows of `view_outcomes_minute`. */
  outcomes: Buffer;
  /** Rows of `rejected_views`. */
  rejected: Buffer;
}

/** The token of a partition's block covering offsets [from, to). */
export function blockToken(group: string, topic: string, partition: number, from: number, to: number): string {
  return `${group}/${topic}/${partition}/${from}-${to}`;
}

/** Whether a block has any rows at all. */
export function isEmptyBlock(b: ClickHouseBlock): boolean {
  return b.views.length === 0 && b.outcomes.length === 0 && b.rejected.length === 0;
}

// A checkpoint's block goes to Redis (each attempt of the commit) and into its ClickHouse copy:
// encoded once. Blocks are never changed once taken.
const encoded = new WeakMap<ClickHouseBlock, Buffer>();

/** A block as one byte string (Redis keeps the pending one, ClickHouse a copy): the token, which views table, then each table's rows with their length. */
export function encodeBlock(b: ClickHouseBlock): Buffer {
  let bytes = encoded.get(b);
  if (bytes !== undefined) return bytes;
  // Sized for the worst case of the token (3 UTF-8 bytes per code unit): the writer never grows, and its bytes are the result.
  const w = new BinaryWriter(64 + 3 * b.token.length + b.views.length + b.outcomes.length + b.rejected.length);
  w.string(b.token);
  w.u8(b.viewsTable === 'views_minute_in' ? 1 : 0);
  for (const rows of [b.views, b.outcomes, b.rejected]) {
    w.u32(rows.length);
    w.bytes(rows);
  }
  bytes = w.view();
  encoded.set(b, bytes);
  return bytes;
}

/** The bytes a block stored pending in Redis starts with: its token (in 0.1's JSON for a block 0.1 left). */
export function pendingPrefix(block: ClickHouseBlock): Buffer {
  if (block.viewsTable === 'views_minute_in') return legacyPendingPrefix(block.token);
  const w = new BinaryWriter(16 + 3 * block.token.length);
  w.string(block.token);
  return w.copy();
}

/** A stored block: this version's binary form, or 0.1's JSON (which goes to 0.1's tables, under its tokens, so that it lands once). */
export function decodeBlock(bytes: Buffer): ClickHouseBlock {
  if (isLegacyBlock(bytes)) return legacyBlock(bytes);
  try {
    const r = new BinaryReader(bytes);
    const token = r.string();
    const legacy = r.u8() === 1;
    const block: ClickHouseBlock = { token, views: Buffer.from(r.bytes(r.u32())), outcomes: Buffer.from(r.bytes(r.u32())), rejected: Buffer.from(r.bytes(r.u32())) };
    if (legacy) block.viewsTable = 'views_minute_in';
    if (r.remaining === 0) return block;
  } catch {
    // the message below says what it is instead
  }
  throw new CheckpointFormatError(`a stored ClickHouse block of ${bytes.length} bytes is in no format this version knows`);
}

/** A checkpoint as ClickHouse keeps a copy of it (`job_checkpoints`): its state link and its block, as bytes. */
export interface CheckpointCopy {
  group_id: string;
  topic: string;
  partition: number;
  offset: number;
  token: string;
  /** 1 when `state` is a full snapshot, 0 when it is a change on the previous copies. */
  full: number;
  state: Buffer;
  block: Buffer;
}

/** The columns of a copy row, in the order `writeCopyRow` writes them. */
export const COPY_COLUMNS = ['group_id', 'topic', 'partition', 'offset', 'token', 'full', 'state', 'block'] as const;

/**
 * One copy row in RowBinary, as the parts to send one after the other: the state (a snapshot can be
 * tens of MB) and the block go as they are, not copied into a row buffer.
 */
export function copyRowParts(c: CheckpointCopy): Buffer[] {
  const head = new BinaryWriter(256);
  head.string(c.group_id);
  head.string(c.topic);
  head.u32(c.partition);
  head.u64(c.offset);
  head.string(c.token);
  head.u8(c.full);
  head.varUint(c.state.length);
  const blockLength = new BinaryWriter(16);
  blockLength.varUint(c.block.length);
  return [head.view(), c.state, blockLength.view(), c.block];
}
