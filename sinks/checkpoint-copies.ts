import type { ClickHouseClient } from '@clickhouse/client';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { decodeBlock, encodeBlock, type CheckpointCopy, type ClickHouseBlock } from './clickhouse-block.ts';
import type { CheckpointWrite } from './redis-sink.ts';

/** The row ClickHouse keeps for a checkpoint: its state link and its block. */
export function checkpointCopy(group: string, topic: string, partition: number, checkpoint: CheckpointWrite): CheckpointCopy {
  return {
    group_id: group,
    topic,
    partition,
    offset: checkpoint.offset,
    token: checkpoint.pending.token,
    full: checkpoint.state.full ? 1 : 0,
    state: checkpoint.state.bytes,
    block: encodeBlock(checkpoint.pending),
  };
}

/** The latest checkpoint ClickHouse holds a copy of for a partition: its offset, state chain and block. */
export interface CheckpointCopyRecord {
  offset: number;
  /** The latest full snapshot and every change written after it, in order. */
  chain: Buffer[];
  block: ClickHouseBlock;
}

const WHERE = 'group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}';

/** The offset of the latest copy of a partition's checkpoint, or null when there is none. */
export async function latestCopyOffset(client: ClickHouseClient, group: string, topic: string, partition: number): Promise<number | null> {
  const rows = await (
    await client.query({ query: `SELECT max(offset) AS offset, count() AS n FROM job_checkpoints WHERE ${WHERE}`, query_params: { group, topic, partition }, format: 'JSONEachRow' })
  ).json<{ offset: string; n: string }>();
  return Number(rows[0]?.n ?? 0) === 0 ? null : Number(rows[0].offset);
}

/** The latest copy of a partition's checkpoint in ClickHouse, with its chain, or null when there is none. */
export async function latestCheckpointCopy(client: ClickHouseClient, group: string, topic: string, partition: number): Promise<CheckpointCopyRecord | null> {
  // Binary columns come back in RowBinary: offset UInt64, full UInt8, state String, block String.
  const result = await client.exec({
    query: `SELECT offset, full, state, block FROM job_checkpoints
            WHERE ${WHERE} AND offset >= (SELECT max(offset) FROM job_checkpoints WHERE ${WHERE} AND full = 1)
            ORDER BY offset, written_at FORMAT RowBinary`,
    query_params: { group, topic, partition },
  });
  const parts: Buffer[] = [];
  for await (const chunk of result.stream) parts.push(chunk as Buffer);
  const r = new BinaryReader(Buffer.concat(parts));
  const rows: { offset: number; full: number; state: Buffer; block: Buffer }[] = [];
  while (r.remaining > 0) rows.push({ offset: r.u64(), full: r.u8(), state: Buffer.from(r.bytes(r.varUint())), block: Buffer.from(r.bytes(r.varUint())) });
  // Several copies can share the snapshot's offset (a checkpoint without new events): the chain starts at the last snapshot.
  let start = rows.length - 1;
  while (start >= 0 && rows[start].full !== 1) start--;
  if (start < 0) return null;
  const chain = rows.slice(start);
  const last = chain[chain.length - 1];
  return { offset: last.offset, chain: chain.map((c) => c.state), block: decodeBlock(last.block) };
}
