/**
 * Test support: a database of its own on the local ClickHouse server, migrated, dropped after.
 * Tests that assert exact totals, change retention or read every row (trending) use one, so
 * they neither see nor disturb what other tests write to the shared tables.
 */
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { migrate } from './migrations.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { VIEWS_COLUMNS, writeViewsRow, type ViewsRow } from '../schemas/clickhouse-rows.ts';
import { insertRowBinary } from '../sinks/clickhouse-sink.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { LOCAL_STATE_SEED } from '../pipeline/config.ts';

export interface TestDatabase {
  /** A client whose every statement runs in the database. */
  client: ClickHouseClient;
  /** `http://host:port/<database>`: a `--clickhouse` target for the same database. */
  target: string;
  database: string;
  drop(): Promise<void>;
}

/** Creates and (unless `migrated: false`) migrates `vt_test_<label>_<unique>` on the local server (`http://…` targets only). */
export async function createTestDatabase(label: string, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const base = resolveJobConfig({}).clickhouse.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new Error(`test databases need an http ClickHouse target, got ${base}`);
  const database = `vt_test_${label.replace(/\W/g, '_')}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = createClickHouseClient(base);
  await admin.command({ query: `CREATE DATABASE ${database}` });
  const target = `${base}/${database}`;
  const client = createClickHouseClient(target);
  if (options.migrated !== false) await migrate(client);
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

/** One minute row as tests write it: `minute` is ISO-8601 UTC, viewers are viewer keys. */
export type MinuteRowInput = Omit<ViewsRow, 'minute' | 'viewers'> & { minute: string; viewers: string[] };

const fingerprints = new Fingerprinter(LOCAL_STATE_SEED);

/** Inserts minute rows the way the ClickHouse sink does: one RowBinary block, one deduplication token, viewers as key fingerprints. */
export async function insertMinuteRows(client: ClickHouseClient, token: string, rows: MinuteRowInput[]): Promise<void> {
  const w = new BinaryWriter();
  for (const r of rows) {
    const viewers = r.viewers.map((v) => {
      fingerprints.string(v);
      return (BigInt(fingerprints.hi) << 32n) | BigInt(fingerprints.lo);
    });
    writeViewsRow(w, { ...r, minute: Date.parse(r.minute), viewers });
  }
  await insertRowBinary(client, 'views_minute_rows', VIEWS_COLUMNS, token, w.view());
}

/** Rows of a bound query. */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}
