import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { CheckpointFormatError } from './sink-errors.ts';

/**
 * Everything a partition sends ClickHouse at one checkpoint, as RowBinary rows per table (see
 * schemas/clickhouse-rows.ts), under one deterministic token derived from (group, topic,
 * partition, offset range): re-inserting it after a crash is a no-op.
 */
export interface ClickHouseBlock {
  token: string;
  /** Rows of `views_minute_rows`. */
  views: Buffer;
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

/** A block as one byte string (Redis keeps the pending one, ClickHouse a copy): the token, then each table's rows with their length. */
export function encodeBlock(b: ClickHouseBlock): Buffer {
  const w = new BinaryWriter(64 + b.token.length + b.views.length + b.outcomes.length + b.rejected.length);
  w.string(b.token);
  for (const rows of [b.views, b.outcomes, b.rejected]) {
    w.u32(rows.length);
    w.bytes(rows);
  }
  return w.copy();
}

/** The bytes an encoded block starts with: its token. */
export function blockTokenPrefix(token: string): Buffer {
  const w = new BinaryWriter(16 + 3 * token.length);
  w.string(token);
  return w.copy();
}

export function decodeBlock(bytes: Buffer): ClickHouseBlock {
  try {
    const r = new BinaryReader(bytes);
    const token = r.string();
    const block = { token, views: Buffer.from(r.bytes(r.u32())), outcomes: Buffer.from(r.bytes(r.u32())), rejected: Buffer.from(r.bytes(r.u32())) };
    if (r.remaining === 0) return block;
  } catch {
    // the message below says what it is instead
  }
  throw new CheckpointFormatError(
    'a stored ClickHouse block is not in this version\'s binary format (the previous version stored JSON): let the previous version write its pending block (stop it after a final checkpoint) before upgrading',
  );
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

/** One copy row in RowBinary. */
export function writeCopyRow(w: BinaryWriter, c: CheckpointCopy): void {
  w.string(c.group_id);
  w.string(c.topic);
  w.u32(c.partition);
  w.u64(c.offset);
  w.string(c.token);
  w.u8(c.full);
  w.varUint(c.state.length);
  w.bytes(c.state);
  w.varUint(c.block.length);
  w.bytes(c.block);
}
