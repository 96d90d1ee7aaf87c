/**
 * Test support: a database of its own on the local ClickHouse server, migrated, dropped after.
 * Tests that assert exact totals, change retention or read every row (trending) use one, so
 * they neither see nor disturb what other tests write to the shared tables.
 */
import type { ViewsRow } from '../operators/minute-pane.ts';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { migrate } from './migrations.ts';

export interface TestDatabase {
  /** A client whose every statement runs in the database. */
  client: ClickHouseClient;
  /** `http://host:port/<database>`: a `--clickhouse` target for the same database. */
  target: string;
  database: string;
  drop(): Promise<void>;
}

/** Creates and migrates `vt_test_<label>_<unique>` on the local server (`http://…` targets only). */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const base = resolveJobConfig({}).clickhouse.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new Error(`test databases need an http ClickHouse target, got ${base}`);
  const database = `vt_test_${label.replace(/\W/g, '_')}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = createClickHouseClient(base);
  await admin.command({ query: `CREATE DATABASE ${database}` });
  const target = `${base}/${database}`;
  const client = createClickHouseClient(target);
  await migrate(client);
  return {
    client,
    target,
    database,
    async drop() {
      await client.close();
      await admin.command({ query: `DROP DATABASE IF EXISTS ${database} SYNC` });
      await admin.close();
    },
  };
}

/** One minute row as the job writes it (`views_minute_in`); `minute` is ISO-8601 UTC. */
export type MinuteRowInput = Omit<ViewsRow, 'minute'> & { minute: string };

/** Inserts minute rows the way the ClickHouse sink does: one block, one deduplication token. */
export async function insertMinuteRows(client: ClickHouseClient, token: string, rows: MinuteRowInput[]): Promise<void> {
  await client.insert({
    table: 'views_minute_in',
    values: rows.map((r) => ({ ...r, minute: Math.floor(Date.parse(r.minute) / 1000) })),
    format: 'JSONEachRow',
    clickhouse_settings: { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
  });
}

/** Rows of a bound query. */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}
