/**
 * views_hour and views_day against views_minute, on the local ClickHouse server (a database of
 * this test's own): the same sums and unique viewers at every granularity, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertMinuteRows, queryRows, type MinuteRowInput, type TestDatabase } from './test-database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('rollups');
});
afterAll(async () => {
  await db?.drop();
});

// A small deterministic generator, so a failure can be replayed.
function rowsFor(seed: number, n: number): MinuteRowInput[] {
  let s = seed;
  const rnd = (k: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % k;
  };
  // around now, so the minute tier's TTL leaves them alone while the test runs
  const base = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  return Array.from({ length: n }, () => {
    const video = rnd(7);
    return {
      minute: new Date(base + rnd(4 * 24 * 60) * 60_000).toISOString(),
      video_id: `v${video}`,
      channel_id: `c${video % 3}`,
      category: `cat${video % 2}`,
      country: ['US', 'FR', 'DE', 'ZZ'][rnd(4)],
      device: ['mobile', 'desktop', 'tv'][rnd(3)],
      traffic_source: ['search', 'direct'][rnd(2)],
      views: 1 + rnd(5),
      viewers: Array.from({ length: 1 + rnd(3) }, () => `viewer${rnd(200)}`),
    };
  });
}

interface Agg {
  k: string;
  views: string;
  uv: string;
}

async function per(table: string, key: string): Promise<Agg[]> {
  return queryRows<Agg>(
    db.client,
    `SELECT ${key} AS k, sum(views) AS views, uniqCombinedMerge(15)(unique_viewers) AS uv FROM ${table} GROUP BY k ORDER BY k`,
  );
}

describe('rollups', () => {
  it('hour and day rows carry the same views and unique viewers as minute rows, per bucket and dimension', async () => {
    const rows = rowsFor(42, 3000);
    for (let i = 0; i < rows.length; i += 500) await insertMinuteRows(db.client, `rollup-test/${i}`, rows.slice(i, i + 500));
    const expectedViews = rows.reduce((s, r) => s + r.views, 0);

    const [minute] = await per('views_minute', `'all'`);
    expect(Number(minute.views)).toBe(expectedViews);
    expect(await per('views_hour', `'all'`)).toEqual([minute]);
    expect(await per('views_day', `'all'`)).toEqual([minute]);

    const dims = 'video_id, channel_id, category, country, device, traffic_source';
    expect(await per('views_hour', `(hour, ${dims})`)).toEqual(await per('views_minute', `(toStartOfHour(minute), ${dims})`));
    expect(await per('views_day', `(day, ${dims})`)).toEqual(await per('views_minute', `(toDate(minute), ${dims})`));
    expect(await per('views_day', 'video_id')).toEqual(await per('views_hour', 'video_id'));

    // exact unique viewers per video, computed here from the raw viewer lists
    const truth = new Map<string, Set<string>>();
    for (const r of rows) for (const v of r.viewers) (truth.get(r.video_id) ?? truth.set(r.video_id, new Set()).get(r.video_id)!).add(v);
    for (const a of await per('views_day', 'video_id')) expect(Number(a.uv)).toBe(truth.get(a.k)!.size); // exact at this cardinality
  });

  it('a block re-sent with the same token is stored once in minute, hour and day', async () => {
    const before = await Promise.all(['views_minute', 'views_hour', 'views_day'].map((t) => per(t, `'all'`)));
    const block = rowsFor(7, 50).map((r) => ({ ...r, video_id: 'dedup-video' }));
    const views = block.reduce((s, r) => s + r.views, 0);
    await insertMinuteRows(db.client, 'dedup-test/0-50', block);
    await insertMinuteRows(db.client, 'dedup-test/0-50', block);
    await insertMinuteRows(db.client, 'dedup-test/0-50', block);
    for (const [i, table] of ['views_minute', 'views_hour', 'views_day'].entries()) {
      const [after] = await per(table, `'all'`);
      expect(Number(after.views) - Number(before[i][0].views)).toBe(views);
    }
    // another token is another block
    await insertMinuteRows(db.client, 'dedup-test/50-100', block);
    for (const table of ['views_minute', 'views_hour', 'views_day']) {
      const [v] = await queryRows<{ v: string }>(db.client, `SELECT sum(views) AS v FROM ${table} WHERE video_id = 'dedup-video'`);
      expect(Number(v.v)).toBe(2 * views);
    }
  });
});
