import type { ClickHouseClient } from '@clickhouse/client';
import type { CheckpointCopy, ClickHouseBlock } from './clickhouse-block.ts';
import { decodePayload, encodePayload } from './checkpoint-codec.ts';
import type { CheckpointWrite } from './redis-sink.ts';

/** The row ClickHouse keeps for a checkpoint: its state link and its block. */
export async function checkpointCopy(group: string, topic: string, partition: number, checkpoint: CheckpointWrite): Promise<CheckpointCopy> {
  return {
    group_id: group,
    topic,
    partition,
    offset: checkpoint.offset,
    token: checkpoint.pending.token,
    full: checkpoint.state.full ? 1 : 0,
    state: checkpoint.state.bytes.toString('base64'),
    block: (await encodePayload(checkpoint.pending)).toString('base64'),
  };
}

/** The latest checkpoint ClickHouse holds a copy of for a partition: its offset, state chain and block. */
export interface CheckpointCopyRecord {
  offset: number;
  /** The latest full snapshot and every delta written after it, in order. */
  chain: Buffer[];
  block: ClickHouseBlock;
}

/** The latest copy of a partition's checkpoint in ClickHouse, with its chain, or null when there is none. */
export async function latestCheckpointCopy(client: ClickHouseClient, group: string, topic: string, partition: number): Promise<CheckpointCopyRecord | null> {
  const where = 'group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}';
  const rows = await (
    await client.query({
      query: `SELECT offset, full, state, block FROM job_checkpoints
              WHERE ${where} AND offset >= (SELECT max(offset) FROM job_checkpoints WHERE ${where} AND full = 1)
              ORDER BY offset, written_at`,
      query_params: { group, topic, partition },
      format: 'JSONEachRow',
    })
  ).json<{ offset: string; full: number; state: string; block: string }>();
  // Several copies can share the snapshot's offset (a checkpoint without new events): the chain starts at the last snapshot.
  let start = rows.length - 1;
  while (start >= 0 && Number(rows[start].full) !== 1) start--;
  if (start < 0) return null;
  const chain = rows.slice(start);
  const last = chain[chain.length - 1];
  return {
    offset: Number(last.offset),
    chain: chain.map((r) => Buffer.from(r.state, 'base64')),
    block: decodePayload<ClickHouseBlock>(Buffer.from(last.block, 'base64')),
  };
}
