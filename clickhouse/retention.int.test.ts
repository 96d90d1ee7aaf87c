/**
 * Retention tiers on the local ClickHouse server, in a database of this test's own (changing
 * TTLs on the shared tables would drop other tests' rows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention, DEFAULT_RETENTION, readRetention, retentionStatements } from './retention.ts';
import { InvalidQueryError } from './query-errors.ts';
import { createTestDatabase, insertMinuteRows, queryRows, type MinuteRowInput, type TestDatabase } from './test-database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('retention');
});
afterAll(async () => {
  await db?.drop();
});

const DAY = 86_400_000;

function row(ageMs: number, views: number): MinuteRowInput {
  const minute = Math.floor((Date.now() - ageMs) / 60_000) * 60_000;
  return { minute: new Date(minute).toISOString(), video_id: 'v', channel_id: 'c', category: 'k', country: 'US', device: 'tv', traffic_source: 'direct', views, viewers: ['a'] };
}

async function views(table: string): Promise<number> {
  const [r] = await queryRows<{ v: string }>(db.client, `SELECT sum(views) AS v FROM ${table}`);
  return Number(r.v);
}

describe('retention', () => {
  it('the migration gives every tier its default TTL and partitions by time', async () => {
    expect(await readRetention(db.client)).toEqual(DEFAULT_RETENTION);
    const tables = await queryRows<{ name: string; partition_key: string; create_table_query: string }>(
      db.client,
      `SELECT name, partition_key, create_table_query FROM system.tables WHERE database = currentDatabase() AND name LIKE 'views\\_%' AND engine LIKE '%MergeTree' ORDER BY name`,
    );
    expect(tables.map((t) => [t.name, t.partition_key])).toEqual([
      ['views_day', 'toYYYYMM(day)'],
      ['views_hour', 'toYYYYMM(hour)'],
      ['views_minute', 'toYYYYMMDD(minute)'],
    ]);
    for (const t of tables) expect(t.create_table_query).toMatch(/ttl_only_drop_parts = 1/);
    expect(tables[2].create_table_query).toMatch(/TTL minute \+ toIntervalDay\(7\)/);
    expect(tables[1].create_table_query).toMatch(/TTL hour \+ toIntervalDay\(90\)/);
    expect(tables[0].create_table_query).toMatch(/TTL day \+ toIntervalDay\(1096\)/);
  });

  // TTL is applied when parts merge; this makes it happen now.
  const expireNow = async () => {
    for (const table of ['views_minute', 'views_hour']) {
      await db.client.command({ query: `ALTER TABLE ${table} MATERIALIZE TTL`, clickhouse_settings: { mutations_sync: '2' } });
      await db.client.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
    }
  };

  it('a shortened TTL drops the expired rows of each tier, and forever keeps them', async () => {
    await insertMinuteRows(db.client, 'ttl/old', [row(3 * DAY, 5)]);
    await insertMinuteRows(db.client, 'ttl/mid', [row(1.5 * DAY, 7)]);
    await insertMinuteRows(db.client, 'ttl/new', [row(DAY / 2, 11)]);
    expect([await views('views_minute'), await views('views_hour'), await views('views_day')]).toEqual([23, 23, 23]);

    const change = await applyRetention(db.client, { minuteDays: 1, hourDays: 2, dayDays: 'forever' });
    expect(change.statements).toEqual([
      'ALTER TABLE views_minute MODIFY TTL minute + INTERVAL 1 DAY',
      'ALTER TABLE views_hour MODIFY TTL hour + INTERVAL 2 DAY',
      'ALTER TABLE views_day REMOVE TTL',
    ]);
    expect(await readRetention(db.client)).toEqual({ minuteDays: 1, hourDays: 2, dayDays: 'forever' });
    await expireNow();
    expect(await views('views_minute')).toBe(11);
    expect(await views('views_hour')).toBe(18);
    expect(await views('views_day')).toBe(23);

    // a row already past a tier's TTL is gone from it at the next merge, and kept in the tier with no TTL
    await insertMinuteRows(db.client, 'ttl/late', [row(3 * DAY, 100)]);
    await expireNow();
    expect([await views('views_minute'), await views('views_hour'), await views('views_day')]).toEqual([11, 18, 123]);
  });

  it('applyRetention changes only what differs', async () => {
    expect((await applyRetention(db.client, { minuteDays: 1, hourDays: 2, dayDays: 'forever' })).statements).toEqual([]);
    expect((await applyRetention(db.client, { minuteDays: 1, hourDays: 3, dayDays: 'forever' })).statements).toEqual([
      'ALTER TABLE views_hour MODIFY TTL hour + INTERVAL 3 DAY',
    ]);
  });

  it('back to the defaults', async () => {
    await applyRetention(db.client);
    expect(await readRetention(db.client)).toEqual(DEFAULT_RETENTION);
  });

  it('reads a cluster schema\'s retention from its shard tables', async () => {
    // On a cluster views_minute is a Distributed table without TTL; the rows and their TTL are in views_minute_local.
    await db.client.command({ query: 'CREATE TABLE views_minute_local AS views_minute' });
    try {
      await db.client.command({ query: 'ALTER TABLE views_minute_local MODIFY TTL minute + INTERVAL 3 DAY' });
      expect(await readRetention(db.client)).toEqual({ ...DEFAULT_RETENTION, minuteDays: 3 });
    } finally {
      await db.client.command({ query: 'DROP TABLE views_minute_local' });
    }
  });

  it('refuses policies the queries could not rely on', () => {
    expect(() => retentionStatements({ minuteDays: 0, hourDays: 90, dayDays: 1096 })).toThrow(InvalidQueryError);
    expect(() => retentionStatements({ minuteDays: 7.5, hourDays: 90, dayDays: 1096 })).toThrow(InvalidQueryError);
    expect(() => retentionStatements({ minuteDays: 100, hourDays: 90, dayDays: 1096 })).toThrow(/must not exceed hourDays/);
    expect(() => retentionStatements({ minuteDays: 7, hourDays: 'forever', dayDays: 1096 })).toThrow(/must not exceed dayDays/);
    expect(retentionStatements({ minuteDays: 7, hourDays: 'forever', dayDays: 'forever' })).toContain('ALTER TABLE views_hour REMOVE TTL');
  });
});
