/**
 * The cluster rendering of the schema, checked where no multi-node ClickHouse can run: every
 * statement through the engine's parser (`EXPLAIN AST` on the local chDB server), its shape, and
 * that with one shard and one replica it is the single-server schema, applied and compared table by
 * table with what `migrate` builds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { renderSchema } from './migrations.ts';
import { ClusterSchema, LOCAL_SUFFIX } from './cluster-schema.ts';
import { createTestDatabase, queryRows, type TestDatabase } from './test-database.ts';
import { parseDistributedEngine, readClusterLayout } from './schema-layout.ts';
import { obsoleteCopiesDelete } from '../sinks/checkpoint-copy-pruner.ts';

const TARGET = { cluster: 'vt_cluster', database: 'viewtally' };
const single = renderSchema(null);
const clustered = renderSchema(TARGET);
const statements = (s: typeof single) => [s.migrationsTable, ...s.migrations.flatMap((m) => m.statements)];

/**
 * What a cluster statement does on a cluster of one shard with one replica: a Distributed table
 * passes everything to its only local table, so it goes and the local table takes its name; a
 * Replicated engine with one replica is its plain engine (its deduplication window the plain
 * one's); ON CLUSTER reaches the one server.
 */
function oneShardOneReplica(cluster: string[]): string[] {
  const out: string[] = [];
  for (const s of cluster) {
    if (/ENGINE = Distributed\(/.test(s)) continue;
    const collapsed = s
      .replace(/ ON CLUSTER `vt_cluster`/g, '')
      .replace(/Replicated(\w*MergeTree)\('\/clickhouse\/tables\/(\{shard\}\/)?\{database\}\/\{table\}', '\{replica\}'(, )?/g, '$1(')
      .replace(/(\w*MergeTree)\(\)/g, '$1')
      .replace(new RegExp(`\\b(\\w+)${LOCAL_SUFFIX}\\b`, 'g'), '$1')
      .replace(/\breplicated_deduplication_window\b/g, 'non_replicated_deduplication_window');
    // a column change goes to the local and to the Distributed table: on one server, once
    if (collapsed !== out[out.length - 1]) out.push(collapsed);
  }
  return out;
}

async function explainAst(client: ClickHouseClient, statement: string, params: Record<string, unknown> = {}): Promise<string> {
  return (await client.query({ query: `EXPLAIN AST ${statement}`, query_params: params, format: 'TabSeparatedRaw' })).text();
}

async function tables(db: TestDatabase): Promise<{ name: string; engine: string; create: string }[]> {
  const rows = await queryRows<{ name: string; engine: string; create: string }>(
    db.client,
    'SELECT name, engine, create_table_query AS create FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  );
  return rows.map((r) => ({ ...r, create: r.create.replaceAll(`${db.database}.`, '') }));
}

describe('the cluster schema (migrate --cluster)', () => {
  let parser: TestDatabase;
  beforeAll(async () => {
    parser = await createTestDatabase('cluster_parse', { migrated: false });
  });
  afterAll(async () => {
    await parser?.drop();
  });

  it('every statement is accepted by the engine\'s parser', async () => {
    const all = statements(clustered);
    expect(all.length).toBeGreaterThan(statements(single).length);
    for (const s of all) {
      expect(s).toContain('ON CLUSTER `vt_cluster`');
      expect(await explainAst(parser.client, s)).toMatch(/^(CreateQuery|AlterQuery) /);
    }
  });

  it('stores rows in Replicated*MergeTree shard tables, behind Distributed tables of the single-server names', () => {
    const all = statements(clustered);
    const created = [...statements(single).join('\n').matchAll(/^CREATE TABLE IF NOT EXISTS (\w+) /gm)].map((m) => m[1]).filter((t) => t !== 'schema_migrations');
    expect(created).toEqual(expect.arrayContaining(['views_minute_rows', 'views_minute', 'views_hour', 'views_day', 'view_outcomes_minute', 'rejected_views', 'job_checkpoints', 'landed_blocks']));
    const ingestion = ['views_minute_in', 'views_minute_rows'];
    for (const table of created) {
      const local = all.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${table}_local ON CLUSTER`));
      expect(local, table).toMatch(ingestion.includes(table) ? /ENGINE = Null$/ : /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'/);
      const distributed = all.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${table} ON CLUSTER`));
      expect(parseDistributedEngine(distributed!.split(' ENGINE = ')[1])).toEqual(TARGET);
      expect(distributed).toMatch(new RegExp(`AS ${table}_local ENGINE = Distributed\\('vt_cluster', 'viewtally', '${table}_local', \\w+`));
    }
    expect(all.find((s) => s.includes('views_minute_rows_local ON CLUSTER'))).not.toContain('deduplication_window');
    expect(all.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS views_minute_local'))).toContain('replicated_deduplication_window = 10000');
  });

  it('chains materialized views on the shard tables, and alters the shard tables', () => {
    const views = statements(clustered).filter((s) => s.startsWith('CREATE MATERIALIZED VIEW'));
    expect(views).toHaveLength(statements(single).filter((s) => s.startsWith('CREATE MATERIALIZED VIEW')).length);
    for (const v of views) {
      expect(v).toMatch(/ TO \w+_local AS /);
      for (const [, source] of v.matchAll(/\bFROM (\w+)/g)) expect(source).toMatch(/_local$/);
    }
    const column = statements(clustered).filter((s) => / ADD COLUMN /.test(s));
    expect(column).toEqual([
      expect.stringMatching(/^ALTER TABLE job_checkpoints_local ON CLUSTER `vt_cluster` ADD COLUMN/),
      expect.stringMatching(/^ALTER TABLE job_checkpoints ON CLUSTER `vt_cluster` ADD COLUMN/),
    ]);
    expect(statements(clustered).filter((s) => s.startsWith('ALTER TABLE') && !/ADD COLUMN/.test(s)).every((s) => /^ALTER TABLE \w+_local /.test(s))).toBe(true);
  });

  it('with one shard and one replica is the single-server schema, statement by statement and applied', async () => {
    const collapsed = oneShardOneReplica(statements(clustered));
    const plain = statements(single);
    expect(collapsed).toHaveLength(plain.length);
    for (let i = 0; i < plain.length; i++) expect(await explainAst(parser.client, collapsed[i])).toBe(await explainAst(parser.client, plain[i]));

    const migrated = await createTestDatabase('cluster_single');
    const built = await createTestDatabase('cluster_collapsed', { migrated: false });
    try {
      for (const s of collapsed) await built.client.command({ query: s });
      const expected = await tables(migrated);
      expect(expected.map((t) => t.name)).toContain('landed_blocks');
      expect(await readClusterLayout(migrated.client)).toBeNull();
      expect(await tables(built)).toEqual(expected);
    } finally {
      await migrated.drop();
      await built.drop();
    }
  });

  it('deletes obsolete checkpoint copies on the shard tables, a statement the parser accepts that is the single-server one on one shard', async () => {
    const [statement, ...more] = obsoleteCopiesDelete(TARGET);
    expect(more).toEqual([]);
    expect(statement).toMatch(/^DELETE FROM job_checkpoints_local ON CLUSTER `vt_cluster` WHERE /);
    const params = { group: 'g', topic: 't', snapshots: new Map([[3, 40]]) };
    expect(await explainAst(parser.client, statement, params)).toMatch(/^DeleteQuery /);
    const [plain] = obsoleteCopiesDelete(null);
    expect(await explainAst(parser.client, oneShardOneReplica([statement])[0], params)).toBe(await explainAst(parser.client, plain, params));
  });

  it('a statement it does not know how to render is an error, not a single-server statement on a cluster', () => {
    const schema = new ClusterSchema(TARGET);
    expect(() => schema.render('DROP TABLE views_minute')).toThrow(/no cluster rendering/);
    expect(() => schema.render('CREATE TABLE t (x UInt64) ENGINE = Memory')).toThrow(/no replicated form/);
    expect(() => new ClusterSchema({ cluster: 'vt; DROP', database: 'd' })).toThrow(/not a ClickHouse name/);
  });
});
