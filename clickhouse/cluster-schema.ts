/**
 * The cluster rendering of the schema. The migrations (`clickhouse/migrations/*.sql`) are the one
 * source of truth and are written for a single server; this turns each statement into its form
 * for a sharded, replicated cluster:
 *
 *   CREATE TABLE t … ENGINE = XMergeTree(a)  →  t_local ON CLUSTER c … ReplicatedXMergeTree(path, '{replica}', a)
 *                                               + t ON CLUSTER c AS t_local ENGINE = Distributed(c, db, t_local, key)
 *   CREATE TABLE t … ENGINE = Null           →  t_local ON CLUSTER c … Null, + the same Distributed t
 *   CREATE MATERIALIZED VIEW v TO t AS … FROM s  →  v ON CLUSTER c TO t_local AS … FROM s_local
 *   ALTER TABLE t <op>                       →  ALTER TABLE t_local ON CLUSTER c <op>
 *                                               (+ the same on t when <op> changes columns)
 *   DELETE FROM t WHERE …                    →  DELETE FROM t_local ON CLUSTER c WHERE …
 *
 * So every name the job and the dashboards use (`views_minute_rows`, `views_day`, …) is a Distributed
 * table on a cluster and the table itself on a single server, and materialized views chain the
 * shard-local tables, as they chain the tables on one server. With one shard and one replica the
 * Distributed tables pass everything to their local table and each Replicated engine is its plain
 * engine: the cluster schema is then the single-server one (cluster-schema.int.test.ts checks that).
 * A statement of a shape this does not know is an error, so a new migration cannot slip through
 * unrendered.
 */
import type { Migration } from './migrations.ts';

/** A cluster to render the schema for: its name in `remote_servers`, and the database the tables live in. */
export interface ClusterTarget {
  cluster: string;
  database: string;
}

/** Suffix of each shard's own table behind the Distributed table of the same name. */
export const LOCAL_SUFFIX = '_local';

/** Where a replicated table keeps its metadata in Keeper: one path per shard; replicas of a shard share it. */
export const REPLICA_PATH = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;

// Rows an insert without `insert_shard_id` sends to a shard: a row's own key, so a re-sent block
// is split the same way and each shard's deduplication sees the same part again.
const SHARDING_KEYS: [column: string, key: string][] = [
  ['video_id', 'cityHash64(video_id)'],
  ['partition', 'partition'],
  ['token', 'cityHash64(token)'],
];

const CREATE_TABLE = /^CREATE TABLE (IF NOT EXISTS )?(\w+)\s*\(([\s\S]*)\)\s*ENGINE = (\w+)(?:\(([^)]*)\))?([\s\S]*)$/;
const CREATE_VIEW = /^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\w+)\s+TO\s+(\w+)\s+AS\s+([\s\S]+)$/;
const ALTER_TABLE = /^ALTER TABLE (\w+)\s+([\s\S]+)$/;
const DELETE_FROM = /^DELETE FROM (\w+)\s+(WHERE\s[\s\S]+)$/;
const COLUMN_OPERATION = /^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR) COLUMN\b/i;
const IDENTIFIER = /^[A-Za-z_][\w.-]*$/;

/** Renders schema statements for a cluster; it learns each table from the statements it renders, in order. */
export class ClusterSchema {
  private readonly tables = new Map<string, { columns: string[] }>();
  private readonly on: string;

  constructor(private readonly target: ClusterTarget) {
    for (const name of [target.cluster, target.database]) {
      if (!IDENTIFIER.test(name)) throw new Error(`not a ClickHouse name: ${JSON.stringify(name)}`);
    }
    this.on = `ON CLUSTER \`${target.cluster}\``;
  }

  /** Every migration with its statements rendered (all of them, so later ones know the tables of earlier ones). */
  renderMigrations(migrations: readonly Migration[]): Migration[] {
    return migrations.map((m) => ({ ...m, statements: m.statements.flatMap((s) => this.render(s)) }));
  }

  /** The cluster form of one single-server statement: one statement or more, in the order to run them. */
  render(statement: string): string[] {
    const s = statement.trim();
    let m = CREATE_TABLE.exec(s);
    if (m) return this.createTable(m[1] ?? '', m[2], m[3], m[4], m[5], m[6]);
    m = CREATE_VIEW.exec(s);
    if (m) {
      const [, ifNotExists = '', view, target, select] = m;
      return [`CREATE MATERIALIZED VIEW ${ifNotExists}${view} ${this.on} TO ${this.local(target)} AS ${this.localSources(select)}`];
    }
    m = ALTER_TABLE.exec(s);
    if (m) {
      const [, table, operation] = m;
      const local = `ALTER TABLE ${this.local(table)} ${this.on} ${operation}`;
      return COLUMN_OPERATION.test(operation) ? [local, `ALTER TABLE ${table} ${this.on} ${operation}`] : [local];
    }
    m = DELETE_FROM.exec(s);
    if (m) return [`DELETE FROM ${this.local(m[1])} ${this.on} ${m[2]}`];
    throw new Error(`no cluster rendering for this statement: ${s.slice(0, 120)}`);
  }

  /** The statement that creates `schema_migrations`: replicated over the whole cluster, so every node knows what ran. */
  migrationsTable(columns: string): string {
    return `CREATE TABLE IF NOT EXISTS schema_migrations ${this.on} (${columns}) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/{table}', '{replica}') ORDER BY version`;
  }

  private createTable(ifNotExists: string, table: string, columnList: string, engine: string, args: string | undefined, rest: string): string[] {
    const columns = [...columnList.matchAll(/^\s*(\w+)\s/gm)].map((c) => c[1]);
    this.tables.set(table, { columns });
    const local = `${table}${LOCAL_SUFFIX}`;
    let storage: string;
    if (engine === 'Null') storage = 'Null';
    else if (engine.endsWith('MergeTree')) storage = `Replicated${engine}(${REPLICA_PATH}${args?.trim() ? `, ${args.trim()}` : ''})`;
    else throw new Error(`no replicated form of engine ${engine} (table ${table})`);
    const settings = rest.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');
    const key = SHARDING_KEYS.find(([column]) => columns.includes(column));
    if (!key) throw new Error(`no sharding key for table ${table}: add one of its columns to SHARDING_KEYS`);
    const { cluster, database } = this.target;
    return [
      `CREATE TABLE ${ifNotExists}${local} ${this.on} (${columnList}) ENGINE = ${storage}${settings}`,
      `CREATE TABLE ${ifNotExists}${table} ${this.on} AS ${local} ENGINE = Distributed('${cluster}', '${database}', '${local}', ${key[1]})`,
    ];
  }

  private local(table: string): string {
    if (!this.tables.has(table)) throw new Error(`table ${table} is not created by an earlier migration`);
    return `${table}${LOCAL_SUFFIX}`;
  }

  /** A view's query reads the shard's own rows: the tables it reads become their local tables. */
  private localSources(select: string): string {
    return select.replace(/\b(FROM|JOIN)(\s+)(\w+)\b/gi, (whole, keyword: string, space: string, table: string) =>
      this.tables.has(table) ? `${keyword}${space}${this.local(table)}` : whole,
    );
  }
}
