/**
 * Job processes started together on a new database, or on a new release, migrate together: every
 * one of them must come up, with the schema one migrator alone builds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from './migrations.ts';
import { createTestDatabase, queryRows, type TestDatabase } from './test-database.ts';

async function schema(db: TestDatabase): Promise<{ name: string; create: string }[]> {
  const rows = await queryRows<{ name: string; create: string }>(
    db.client,
    `SELECT name, create_table_query AS create FROM system.tables WHERE database = currentDatabase() AND name != 'schema_migrations' ORDER BY name`,
  );
  return rows.map((r) => ({ name: r.name, create: r.create.replaceAll(`${db.database}.`, '') }));
}

describe('migrate', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('six migrators at once on a fresh database all succeed, and build what one builds', async () => {
    const alone = await createTestDatabase('migrate_alone');
    const together = await createTestDatabase('migrate_together', { migrated: false });
    dbs.push(alone, together);
    const applied = await Promise.all(Array.from({ length: 6 }, () => migrate(together.client)));
    const versions = loadMigrations().map((m) => m.version);
    // every migration applied once by someone (a migrator may record one another also ran: both ran it whole)
    expect(new Set(applied.flat())).toEqual(new Set(versions));
    expect(await schema(together)).toEqual(await schema(alone));
    const recorded = await queryRows<{ version: number }>(together.client, 'SELECT DISTINCT version FROM schema_migrations ORDER BY version');
    expect(recorded.map((r) => Number(r.version))).toEqual(versions);
    const [copies] = (await schema(together)).filter((t) => t.name === 'job_checkpoints');
    expect(copies.create).not.toMatch(/\bTTL\b/);
  });
});
