import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import { ViewtallyError } from '../schemas/errors.ts';
import { SinkUnavailableError } from './sink-errors.ts';
import type { CheckpointCopy, ClickHouseBlock } from './clickhouse-block.ts';

// ClickHouse errors that no retry can fix: the statement or the schema is wrong.
const PERMANENT_CODES = new Set(['16', '27', '47', '60', '62', '117']);

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Writes checkpoint blocks to ClickHouse. Each table's insert carries the block's token as
 * `insert_deduplication_token`, and dependent materialized views deduplicate too, so writing
 * the same block twice stores it once, rollups included.
 */
export class ClickHouseSink {
  private readonly client: ClickHouseClient;

  constructor(client: ClickHouseClient) {
    this.client = client;
  }

  /**
   * Inserts a block, preceded by the copy of the checkpoint it belongs to (so no block is ever
   * newer than the latest copy); throws SinkUnavailableError when a retry may succeed.
   */
  async write(block: ClickHouseBlock, copy: CheckpointCopy): Promise<void> {
    await this.insert('job_checkpoints', `${block.token}/checkpoint`, [copy]);
    if (block.views.length > 0) {
      await this.insert('views_minute_in', `${block.token}/views`, block.views.map((v) => ({ ...v, minute: seconds(v.minute) })));
    }
    if (block.outcomes.length > 0) {
      await this.insert('view_outcomes_minute', `${block.token}/outcomes`, block.outcomes.map((o) => ({ ...o, minute: seconds(o.minute) })));
    }
    if (block.rejected.length > 0) {
      await this.insert('rejected_views', `${block.token}/rejected`, block.rejected.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() })));
    }
  }

  private async insert(table: string, token: string, values: object[]): Promise<void> {
    try {
      await this.client.insert({
        table,
        values,
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
      });
    } catch (err) {
      if (err instanceof ClickHouseError && PERMANENT_CODES.has(err.code)) {
        throw new ViewtallyError(`ClickHouse rejected the insert into ${table}: ${err.message}`, { cause: err });
      }
      throw new SinkUnavailableError(`ClickHouse insert into ${table} failed: ${(err as Error).message}`, err);
    }
  }
}
