import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { ClusterSchema, type ClusterTarget } from './cluster-schema.ts';

const DIR = new URL('./migrations/', import.meta.url);

/** One versioned migration: a `NNNN_name.sql` file whose statements are separated by `;` lines. */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** The migrations shipped with this version, in order. */
export function loadMigrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 4)),
      name: f.slice(5, -4),
      statements: readFileSync(new URL(f, DIR), 'utf8')
        .split(/;\s*$/m)
        .map((s) => s.replace(/^--.*$/gm, '').trim())
        .filter((s) => s.length > 0),
    }));
}

const MIGRATIONS_COLUMNS = 'version UInt32, name String, applied_at DateTime DEFAULT now()';

/**
 * The schema for one server (`cluster` null: the migrations as written) or for a cluster (each
 * statement rendered by ClusterSchema): the statement creating `schema_migrations`, then every migration.
 */
export function renderSchema(cluster: ClusterTarget | null): { migrationsTable: string; migrations: Migration[] } {
  if (cluster === null) {
    return { migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (${MIGRATIONS_COLUMNS}) ENGINE = MergeTree ORDER BY version`, migrations: loadMigrations() };
  }
  const schema = new ClusterSchema(cluster);
  return { migrationsTable: schema.migrationsTable(MIGRATIONS_COLUMNS), migrations: schema.renderMigrations(loadMigrations()) };
}

/** A statement on the migrated schema (a retention change, say), rendered as the migrations are. */
export function renderStatement(statement: string, cluster: ClusterTarget | null): string[] {
  if (cluster === null) return [statement];
  const schema = new ClusterSchema(cluster);
  schema.renderMigrations(loadMigrations());
  return schema.render(statement);
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, rendered for one server or for
 * a cluster (`ON CLUSTER` statements, sent to any one of its servers); returns the versions applied.
 */
export async function migrate(client: ClickHouseClient, cluster: ClusterTarget | null = null): Promise<number[]> {
  const schema = renderSchema(cluster);
  await client.command({ query: schema.migrationsTable });
  const done = await recordedVersions(client);
  const applied: number[] = [];
  for (const m of schema.migrations) {
    if (done.has(m.version)) continue;
    if (!(await applyMigration(client, m))) continue;
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  return applied;
}

/** The versions `schema_migrations` records as applied. */
async function recordedVersions(client: ClickHouseClient): Promise<Set<number>> {
  const rows = await (await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })).json<{ version: number }>();
  return new Set(rows.map((r) => Number(r.version)));
}

/** How long a migrator whose statement failed waits for another to record the migration as applied. */
const CONCURRENT_MIGRATOR_WAIT_MS = 15_000;

/**
 * Runs a migration's statements; false when another migrator applied it meanwhile. Job processes
 * started together migrate together: most statements can run twice (`IF NOT EXISTS`), but not all
 * (`REMOVE TTL` fails once the TTL is gone), so a failed statement stands when the migration gets
 * recorded by the migrator that ran it first.
 */
async function applyMigration(client: ClickHouseClient, m: Migration): Promise<boolean> {
  for (const statement of m.statements) {
    try {
      await client.command({ query: statement });
    } catch (err) {
      const until = Date.now() + CONCURRENT_MIGRATOR_WAIT_MS;
      do {
        if ((await recordedVersions(client)).has(m.version)) return false;
        await sleep(100);
      } while (Date.now() < until);
      throw err;
    }
  }
  return true;
}
