import { Readable } from 'node:stream';
import { ClickHouseError, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { ViewtallyError } from '../schemas/errors.ts';
import { OUTCOMES_COLUMNS, REJECTED_COLUMNS, VIEWS_COLUMNS } from '../schemas/clickhouse-rows.ts';
import { SinkUnavailableError } from './sink-errors.ts';
import { COPY_COLUMNS, copyRowParts, type CheckpointCopy, type ClickHouseBlock } from './clickhouse-block.ts';
import type { CopyPruner } from './checkpoint-copy-pruner.ts';

// ClickHouse errors that no retry can fix: the statement, the schema, the rows or the credentials are
// wrong (parse and type errors, unknown names, sizes over a limit, refused access). Anything else, and
// every error without a code (the network), may pass.
const PERMANENT_CODES = new Set([
  '6', '16', '26', '27', '38', '41', '43', '47', '53', '60', '62', '69', '70', '72', '73', '81', '115', '117', '131', '192', '194', '497', '516',
]);

/**
 * Writes checkpoint blocks to ClickHouse in RowBinary. Each table's insert carries the block's
 * token as `insert_deduplication_token`, and dependent materialized views deduplicate too, so
 * writing the same block twice stores it once, rollups included.
 */
export class ClickHouseSink {
  private readonly client: ClickHouseClient;
  /** Settings that route a partition's blocks (one shard per partition on a cluster; none on one server). */
  private readonly routing: (partition: number) => ClickHouseSettings;
  /** Told of every copy that landed, to delete the copies a snapshot made obsolete (none: copies are kept). */
  private readonly pruner: CopyPruner | null;

  constructor(client: ClickHouseClient, routing: (partition: number) => ClickHouseSettings = () => ({}), pruner: CopyPruner | null = null) {
    this.client = client;
    this.routing = routing;
    this.pruner = pruner;
  }

  /**
   * Inserts a block, preceded by the copy of the checkpoint it belongs to (so no block is ever
   * newer than the latest copy); throws SinkUnavailableError when a retry may succeed.
   */
  async write(block: ClickHouseBlock, copy: CheckpointCopy): Promise<void> {
    const routing = this.routing(copy.partition);
    await insertRowBinary(this.client, 'job_checkpoints', COPY_COLUMNS, `${block.token}/checkpoint`, copyRowParts(copy), routing);
    this.pruner?.landed(copy);
    if (block.views.length > 0) await insertRowBinary(this.client, block.viewsTable ?? 'views_minute_rows', VIEWS_COLUMNS, `${block.token}/views`, block.views, routing);
    if (block.outcomes.length > 0) await insertRowBinary(this.client, 'view_outcomes_minute', OUTCOMES_COLUMNS, `${block.token}/outcomes`, block.outcomes, routing);
    if (block.rejected.length > 0) await insertRowBinary(this.client, 'rejected_views', REJECTED_COLUMNS, `${block.token}/rejected`, block.rejected, routing);
  }
}

/**
 * Inserts RowBinary rows (one buffer, or parts sent in order) into a table under a deduplication token (dependent materialized views
 * deduplicate too), with routing `settings` on a cluster; throws SinkUnavailableError when a retry may succeed.
 */
export async function insertRowBinary(client: ClickHouseClient, table: string, columns: readonly string[], token: string, rows: Buffer | Buffer[], settings: ClickHouseSettings = {}): Promise<void> {
  try {
    const result = await client.exec({
      query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT RowBinary`,
      values: Readable.from(Array.isArray(rows) ? rows : [rows]),
      clickhouse_settings: { ...settings, insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
    });
    result.stream.resume();
  } catch (err) {
    if (err instanceof ClickHouseError && PERMANENT_CODES.has(err.code)) {
      // Skipping the block would lose counted views: the job stops until a person fixes the cause (a restart re-inserts the block).
      throw new ViewtallyError(`ClickHouse rejected block ${token} for ${table} (code ${err.code}: ${err.message}); no retry can help`, { cause: err });
    }
    throw new SinkUnavailableError(`ClickHouse insert into ${table} failed: ${(err as Error).message}`, err);
  }
}
