import { readdirSync, readFileSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';

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

/** Applies every migration not yet recorded in `schema_migrations`; returns the versions applied. */
export async function migrate(client: ClickHouseClient): Promise<number[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version`,
  });
  const rows = await (await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })).json<{ version: number }>();
  const done = new Set(rows.map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of loadMigrations()) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements) await client.command({ query: statement });
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  return applied;
}
