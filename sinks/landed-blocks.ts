import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseBlock } from './clickhouse-block.ts';

// The table each part of a block is inserted into. Every insert of these tables with a token
// leaves that token in `landed_blocks`, in the same insert (migration 0008).
const PART_TABLES = { views: 'views_minute_rows', outcomes: 'view_outcomes_minute', rejected: 'rejected_views' } as const;
const NO_ROWS = Buffer.alloc(0);

/** The tables an insert of the block with this token has landed in, by the markers those inserts left. */
export async function landedTables(client: ClickHouseClient, blockToken: string): Promise<Set<string>> {
  // Each insert's token is the block's token and a suffix (sinks/clickhouse-sink.ts).
  const rows = await (
    await client.query({
      query: 'SELECT DISTINCT table_name FROM landed_blocks WHERE startsWith(token, {prefix:String})',
      query_params: { prefix: `${blockToken}/` },
      format: 'JSONEachRow',
    })
  ).json<{ table_name: string }>();
  return new Set(rows.map((r) => r.table_name));
}

/**
 * What of a block left pending by a writer that is gone ClickHouse does not hold yet: the block
 * with every part whose insert landed emptied (the sink skips empty parts). The markers know this
 * for 7 days; the insert tokens, for a table's last 10 000 blocks only.
 *
 * Only for a takeover or reconcile: a writer whose insert failed retries on the tokens alone,
 * since an insert that failed inside ClickHouse may have left its marker without all its rows
 * (ClickHouse runs a table's views in no fixed order and keeps what they wrote before the failure).
 */
export async function unlandedPart(client: ClickHouseClient, block: ClickHouseBlock): Promise<ClickHouseBlock> {
  const landed = await landedTables(client, block.token);
  return {
    ...block,
    views: landed.has(PART_TABLES.views) ? NO_ROWS : block.views,
    outcomes: landed.has(PART_TABLES.outcomes) ? NO_ROWS : block.outcomes,
    rejected: landed.has(PART_TABLES.rejected) ? NO_ROWS : block.rejected,
  };
}
