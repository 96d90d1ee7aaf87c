import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseBlock } from './clickhouse-block.ts';
import { decodePayload } from './checkpoint-codec.ts';

/** The latest checkpoint copy ClickHouse holds for a partition, decoded. */
export interface CheckpointCopyRecord {
  offset: number;
  state: Buffer;
  block: ClickHouseBlock;
}

/** The latest copy of a partition's checkpoint in ClickHouse, or null when there is none. */
export async function latestCheckpointCopy(client: ClickHouseClient, group: string, topic: string, partition: number): Promise<CheckpointCopyRecord | null> {
  const rows = await (
    await client.query({
      query: `SELECT offset, state, block FROM job_checkpoints
              WHERE group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
              ORDER BY offset DESC LIMIT 1`,
      query_params: { group, topic, partition },
      format: 'JSONEachRow',
    })
  ).json<{ offset: string; state: string; block: string }>();
  if (rows.length === 0) return null;
  return {
    offset: Number(rows[0].offset),
    state: Buffer.from(rows[0].state, 'base64'),
    block: decodePayload<ClickHouseBlock>(Buffer.from(rows[0].block, 'base64')),
  };
}
