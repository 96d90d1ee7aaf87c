/**
 * Every dashboard query against a small seeded dataset on the local ClickHouse server (a
 * database of this test's own, so totals and trending see only these rows). The clock is fixed
 * at NOW; the rows lie in 2030, so no real TTL touches them while the plan treats the older ones
 * as past the minute and hour retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakdown, outcomeCounts, recentRejected, totals, trending, uniqueViewers, viewsOverTime, type SeriesPoint } from './dashboard-queries.ts';
import { InvalidQueryError } from './query-errors.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { createTestDatabase, insertMinuteRows, queryRows, type MinuteRowInput, type TestDatabase } from './test-database.ts';

const NOW = new Date('2030-03-20T12:00:00Z');
const ctx = { now: NOW };
const LA = 'America/Los_Angeles';

function r(minute: string, video: string, channel: string, category: string, country: string, device: string, source: string, views: number, viewers: string[]): MinuteRowInput {
  return { minute, video_id: video, channel_id: channel, category, country, device, traffic_source: source, views, viewers };
}

const ROWS = [
  r('2030-03-19T07:30:00Z', 'V1', 'C1', 'music', 'US', 'mobile', 'search', 3, ['a', 'b', 'c']),
  r('2030-03-19T06:59:00Z', 'V1', 'C1', 'music', 'US', 'desktop', 'direct', 2, ['a', 'd']),
  r('2030-03-19T20:15:00Z', 'V2', 'C1', 'gaming', 'FR', 'tv', 'suggested', 5, ['e', 'f', 'g', 'h', 'i']),
  r('2030-03-20T01:00:00Z', 'V1', 'C1', 'music', 'DE', 'mobile', 'search', 4, ['a', 'j']),
  r('2030-03-20T11:58:00Z', 'V3', 'C2', 'music', 'US', 'mobile', 'external', 7, ['k']),
  r('2030-03-20T11:59:00Z', 'V1', 'C1', 'music', 'US', 'mobile', 'search', 1, ['l']),
  r('2029-11-10T03:00:00Z', 'V1', 'C1', 'music', 'US', 'mobile', 'search', 10, ['m', 'n']),
  r('2029-12-31T23:00:00Z', 'V1', 'C1', 'music', 'US', 'mobile', 'search', 6, ['o']),
];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('dashboard');
  await insertMinuteRows(db.client, 'dashboard/0', ROWS);
  const outcomes = [
    ['2030-03-19T10:00:00Z', 'V1', 'counted', 10],
    ['2030-03-19T10:00:00Z', 'V1', 'bot', 3],
    ['2030-03-19T10:01:00Z', 'V1', 'counted', 4],
    ['2030-03-19T10:01:00Z', 'V1', 'duplicate', 2],
    ['2030-03-18T10:00:00Z', 'V1', 'counted', 100],
    ['2030-03-19T10:00:00Z', 'V2', 'counted', 50],
  ] as const;
  await db.client.insert({
    table: 'view_outcomes_minute',
    values: outcomes.map(([t, video_id, outcome, events]) => ({ minute: Date.parse(t) / 1000, video_id, outcome, events })),
    format: 'JSONEachRow',
  });
  const rejected = [
    ['2030-03-20T11:00:00.123Z', 'V1', 'e1'],
    ['2030-03-20T11:30:00.000Z', 'V2', 'e2'],
    ['2030-03-20T11:45:00.000Z', 'V1', 'e3'],
    ['2030-03-01T00:00:00.000Z', 'V1', 'e0'],
  ] as const;
  await db.client.insert({
    table: 'rejected_views',
    values: rejected.map(([t, video_id, event_id]) => ({
      // as text: a JSON number with a fraction does not parse as DateTime64
      ts: String(Date.parse(t) / 1000), video_id, event_id, score: 0.5, reasons: ['ua_bot'], ip_hash: 'h', ip_prefix: '203.0.113.0/24', user_agent: 'bot/1.0',
    })),
    format: 'JSONEachRow',
  });
});
afterAll(async () => {
  await db?.drop();
});

const nonZero = (points: SeriesPoint[]) => points.filter((p) => p.views > 0);
const sumViews = (points: SeriesPoint[]) => points.reduce((s, p) => s + p.views, 0);

describe('viewsOverTime', () => {
  it('minute buckets for a day in Los Angeles', async () => {
    const s = await viewsOverTime(db.client, { channelId: 'C1', from: '2030-03-19', to: '2030-03-20', tz: LA }, ctx);
    expect(s.granularity).toBe('minute');
    expect(s.points.length).toBe(1440);
    expect(s.points[0].t).toBe('2030-03-19T00:00:00-07:00');
    expect(nonZero(s.points)).toEqual([
      { t: '2030-03-19T00:30:00-07:00', views: 3, unique_viewers: 3 },
      { t: '2030-03-19T13:15:00-07:00', views: 5, unique_viewers: 5 },
      { t: '2030-03-19T18:00:00-07:00', views: 4, unique_viewers: 2 },
    ]);
  });

  it('says from when buckets are not written yet (after the newest minute of any video), not only zeros', async () => {
    const s = await viewsOverTime(db.client, { videoId: 'V3', from: '2030-03-20T11:00:00Z', to: '2030-03-20T13:00:00Z' }, ctx);
    expect(s.pendingFrom).toBe('2030-03-20T12:00:00Z');
    expect(nonZero(s.points).map((p) => [p.t, p.views])).toEqual([['2030-03-20T11:58:00Z', 7]]);
    const inKolkata = await viewsOverTime(db.client, { videoId: 'V3', from: '2030-03-20T11:00:00Z', to: '2030-03-20T13:00:00Z', tz: 'Asia/Kolkata' }, ctx);
    expect(inKolkata.pendingFrom).toBe('2030-03-20T17:30:00+05:30');
    const before = await viewsOverTime(db.client, { videoId: 'V3', from: '2030-03-20T10:00:00Z', to: '2030-03-20T12:00:00Z' }, ctx);
    expect(before.pendingFrom).toBeUndefined();
  });

  it('the same calendar day in UTC holds other rows', async () => {
    const s = await viewsOverTime(db.client, { channelId: 'C1', from: '2030-03-19', to: '2030-03-20' }, ctx);
    expect(nonZero(s.points).map((p) => [p.t, p.views])).toEqual([
      ['2030-03-19T06:59:00Z', 2],
      ['2030-03-19T07:30:00Z', 3],
      ['2030-03-19T20:15:00Z', 5],
    ]);
  });

  it('hour buckets beyond 48 h, labelled in the zone (a :30 zone gets :30 labels)', async () => {
    const s = await viewsOverTime(db.client, { channelId: 'C1', from: '2030-03-17', to: '2030-03-20', tz: LA }, ctx);
    expect(s.granularity).toBe('hour');
    expect(s.points.length).toBe(72);
    expect(nonZero(s.points).map((p) => [p.t, p.views])).toEqual([
      ['2030-03-18T23:00:00-07:00', 2],
      ['2030-03-19T00:00:00-07:00', 3],
      ['2030-03-19T13:00:00-07:00', 5],
      ['2030-03-19T18:00:00-07:00', 4],
    ]);
    const india = await viewsOverTime(db.client, { videoId: 'V1', from: '2030-03-17T00:00:00Z', to: '2030-03-20T00:00:00Z', tz: 'Asia/Kolkata' }, ctx);
    expect(nonZero(india.points).map((p) => p.t)).toEqual(['2030-03-19T11:30:00+05:30', '2030-03-19T12:30:00+05:30']);
  });

  it('day buckets in Los Angeles: from hour rows while they exist, UTC day rows before', async () => {
    const s = await viewsOverTime(db.client, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21', tz: LA }, ctx);
    expect(s.granularity).toBe('day');
    expect(s.points.length).toBe(140);
    expect(s.utcDaysBefore).toBe('2029-12-21');
    expect(nonZero(s.points)).toEqual([
      { t: '2029-11-10T00:00:00-08:00', views: 10, unique_viewers: 2 },
      { t: '2029-12-31T00:00:00-08:00', views: 6, unique_viewers: 1 },
      { t: '2030-03-18T00:00:00-07:00', views: 2, unique_viewers: 2 },
      { t: '2030-03-19T00:00:00-07:00', views: 12, unique_viewers: 9 },
      { t: '2030-03-20T00:00:00-07:00', views: 1, unique_viewers: 1 },
    ]);
  });

  it('day buckets in UTC come from day rows', async () => {
    const s = await viewsOverTime(db.client, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21', tz: 'UTC' }, ctx);
    expect(s.utcDaysBefore).toBeUndefined();
    expect(nonZero(s.points)).toEqual([
      { t: '2029-11-10T00:00:00Z', views: 10, unique_viewers: 2 },
      { t: '2029-12-31T00:00:00Z', views: 6, unique_viewers: 1 },
      { t: '2030-03-19T00:00:00Z', views: 10, unique_viewers: 9 },
      { t: '2030-03-20T00:00:00Z', views: 5, unique_viewers: 3 },
    ]);
  });

  it('picks the granularity from the span and from what the tiers still hold', async () => {
    const g = async (from: string, to: string) => (await viewsOverTime(db.client, { videoId: 'V1', from, to }, ctx)).granularity;
    expect(await g('2030-03-18T12:00:00Z', '2030-03-20T12:00:00Z')).toBe('minute');
    expect(await g('2030-03-18T11:00:00Z', '2030-03-20T12:00:00Z')).toBe('hour');
    expect(await g('2030-03-01T00:00:00Z', '2030-03-02T00:00:00Z')).toBe('hour');
    expect(await g('2029-12-19T00:00:00Z', '2029-12-20T00:00:00Z')).toBe('day');
    expect(await g('2029-12-20T00:00:00Z', '2030-03-20T12:00:00Z')).toBe('day');
  });
});

describe('projections', () => {
  it('series and totals filtered by channel alone or video alone are served by the projections (0004)', async () => {
    // With this setting ClickHouse refuses a query in which no projection is used.
    const forced = createClickHouseClient(db.target, { settings: { force_optimize_projection: 1 } });
    try {
      const hours = await viewsOverTime(forced, { channelId: 'C1', from: '2030-03-17', to: '2030-03-20', tz: LA }, ctx);
      expect(sumViews(hours.points)).toBe(14);
      const days = await viewsOverTime(forced, { videoId: 'V1', from: '2029-11-01', to: '2030-03-21', tz: LA }, ctx);
      expect(sumViews(days.points)).toBe(26);
      expect((await totals(forced, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21' }, ctx)).views).toBe(31);
      await expect(viewsOverTime(forced, { channelId: 'C1', country: 'US', from: '2030-03-17', to: '2030-03-20' }, ctx)).rejects.toThrow(/No projection is used/);
    } finally {
      await forced.close();
    }
  });
});

describe('category projections', () => {
  it('totals of one category over all channels read the by_category projection of each tier (0009)', async () => {
    // Each range lies in one tier: minutes of the current hour, hours of yesterday, days of last year.
    const forced = createClickHouseClient(db.target, { settings: { force_optimize_projection_name: 'by_category' } });
    try {
      expect((await totals(forced, { category: 'music', from: '2030-03-20T11:30:00Z', to: '2030-03-20T12:00:00Z' }, ctx)).views).toBe(8);
      expect((await totals(forced, { category: 'music', from: '2030-03-19T06:00:00Z', to: '2030-03-19T08:00:00Z' }, ctx)).views).toBe(5);
      expect(await totals(forced, { category: 'music', from: '2029-11-01', to: '2030-01-01' }, ctx)).toMatchObject({ views: 16, unique_viewers: 3 });
      await expect(totals(forced, { category: 'music', country: 'US', from: '2029-11-01', to: '2030-01-01' }, ctx)).rejects.toThrow(/by_category/);
    } finally {
      await forced.close();
    }
  });
});

describe('totals, uniqueViewers, breakdown', () => {
  it('totals over a range, in any zone, merge unique viewers across buckets', async () => {
    expect(await totals(db.client, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21' }, ctx)).toEqual({
      from: '2029-11-01T00:00:00Z', to: '2030-03-21T00:00:00Z', views: 31, unique_viewers: 14,
    });
    const la = await totals(db.client, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21', tz: LA }, ctx);
    expect([la.from, la.views, la.unique_viewers]).toEqual(['2029-10-31T17:00:00-07:00', 31, 14]);
    expect(await totals(db.client, { videoId: 'V1', from: '2030-03-19T07:15:00Z', to: '2030-03-20T01:30:00Z' }, ctx)).toEqual({
      from: '2030-03-19T07:15:00Z', to: '2030-03-20T01:30:00Z', views: 7, unique_viewers: 4,
    });
    expect(await uniqueViewers(db.client, { channelId: 'C1', from: '2029-11-01', to: '2030-03-21' }, ctx)).toBe(14);
    expect(await uniqueViewers(db.client, { videoId: 'V2', from: '2030-03-19', to: '2030-03-20' }, ctx)).toBe(5);
  });

  it('sums agree at every granularity', async () => {
    const range = { channelId: 'C1', from: '2030-03-17', to: '2030-03-21' };
    const hours = await viewsOverTime(db.client, range, ctx);
    const days = await viewsOverTime(db.client, { ...range, from: '2029-11-01' }, ctx);
    const minutes = await viewsOverTime(db.client, { ...range, from: '2030-03-19T00:00:00Z', to: '2030-03-21T00:00:00Z' }, ctx);
    expect([hours.granularity, days.granularity, minutes.granularity]).toEqual(['hour', 'day', 'minute']);
    expect(sumViews(hours.points)).toBe(15);
    expect(sumViews(days.points.filter((p) => p.t >= '2030-03-17'))).toBe(15);
    expect(sumViews(minutes.points)).toBe(15);
    expect((await totals(db.client, range, ctx)).views).toBe(15);
  });

  it('breaks down by country, device and traffic source, with filters', async () => {
    const range = { channelId: 'C1', from: '2030-03-18', to: '2030-03-21' };
    expect(await breakdown(db.client, { ...range, dimension: 'country' }, ctx)).toEqual([
      { value: 'US', views: 6, unique_viewers: 5 },
      { value: 'FR', views: 5, unique_viewers: 5 },
      { value: 'DE', views: 4, unique_viewers: 2 },
    ]);
    expect(await breakdown(db.client, { ...range, dimension: 'device' }, ctx)).toEqual([
      { value: 'mobile', views: 8, unique_viewers: 5 },
      { value: 'tv', views: 5, unique_viewers: 5 },
      { value: 'desktop', views: 2, unique_viewers: 2 },
    ]);
    expect(await breakdown(db.client, { ...range, dimension: 'traffic_source' }, ctx)).toEqual([
      { value: 'search', views: 8, unique_viewers: 5 },
      { value: 'suggested', views: 5, unique_viewers: 5 },
      { value: 'direct', views: 2, unique_viewers: 2 },
    ]);
    expect(await breakdown(db.client, { ...range, country: 'US', device: 'mobile', dimension: 'traffic_source' }, ctx)).toEqual([
      { value: 'search', views: 4, unique_viewers: 4 },
    ]);
    expect(await breakdown(db.client, { ...range, dimension: 'video_id', limit: 1 }, ctx)).toEqual([{ value: 'V1', views: 10, unique_viewers: 6 }]);
    expect(await breakdown(db.client, { ...range, category: 'gaming', dimension: 'category' }, ctx)).toEqual([{ value: 'gaming', views: 5, unique_viewers: 5 }]);
  });
});

describe('trending, outcomes, rejected', () => {
  it('trending ranks videos by views in the last minutes', async () => {
    expect(await trending(db.client, { windowMinutes: 5 }, ctx)).toEqual([
      { video_id: 'V3', channel_id: 'C2', views: 7, views_per_minute: 1.4 },
      { video_id: 'V1', channel_id: 'C1', views: 1, views_per_minute: 0.2 },
    ]);
    expect(await trending(db.client, { windowMinutes: 5, channelId: 'C1', limit: 5 }, ctx)).toEqual([
      { video_id: 'V1', channel_id: 'C1', views: 1, views_per_minute: 0.2 },
    ]);
    expect(await trending(db.client, { windowMinutes: 1 }, ctx)).toEqual([]);
  });

  it('outcome counts of a video over a range', async () => {
    expect(await outcomeCounts(db.client, { videoId: 'V1', from: '2030-03-19', to: '2030-03-20' })).toEqual({ bot: 3, counted: 14, duplicate: 2 });
  });

  it('recent rejected events, newest first', async () => {
    expect((await recentRejected(db.client, {}, ctx)).map((e) => [e.event_id, e.ts])).toEqual([
      ['e3', '2030-03-20T11:45:00Z'],
      ['e2', '2030-03-20T11:30:00Z'],
      ['e1', '2030-03-20T11:00:00.123Z'],
    ]);
    expect((await recentRejected(db.client, { videoId: 'V1', limit: 1 }, ctx)).map((e) => e.event_id)).toEqual(['e3']);
    const all = await recentRejected(db.client, { videoId: 'V1', since: '2030-03-01' }, ctx);
    expect(all.map((e) => e.event_id)).toEqual(['e3', 'e1', 'e0']);
    expect(all[0]).toMatchObject({ video_id: 'V1', score: 0.5, reasons: ['ua_bot'], ip_prefix: '203.0.113.0/24', user_agent: 'bot/1.0' });
  });
});

describe('hostile and invalid input', () => {
  const range = { from: '2030-03-18', to: '2030-03-21' };
  const attacks = ["x' OR 1=1 --", "C1' OR '1'='1", "') UNION ALL SELECT 1, 1, 1 --", 'C1\\', '{f_video_id:String}'];

  it('an injection attempt in an id or category is just a value that matches nothing', async () => {
    for (const bad of attacks) {
      for (const filter of [{ videoId: bad }, { channelId: bad }, { category: bad }]) {
        expect(sumViews((await viewsOverTime(db.client, { ...range, ...filter }, ctx)).points)).toBe(0);
        expect((await totals(db.client, { ...range, ...filter }, ctx)).views).toBe(0);
        expect(await breakdown(db.client, { ...range, ...filter, dimension: 'country' }, ctx)).toEqual([]);
        expect(await trending(db.client, { ...filter, windowMinutes: 60 }, ctx)).toEqual([]);
      }
      expect(await outcomeCounts(db.client, { ...range, videoId: bad })).toEqual({});
      expect(await recentRejected(db.client, { videoId: bad }, ctx)).toEqual([]);
    }
    const [count] = await queryRows<{ n: string }>(db.client, 'SELECT count() AS n FROM views_minute');
    expect(Number(count.n)).toBe(ROWS.length);
  });

  it('an injection attempt anywhere else is refused before any SQL runs', async () => {
    const refused = async (p: Promise<unknown>, parameter: string) => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidQueryError);
      expect((err as InvalidQueryError).parameter).toBe(parameter);
    };
    for (const bad of attacks) {
      await refused(viewsOverTime(db.client, { ...range, tz: bad }, ctx), 'tz');
      await refused(viewsOverTime(db.client, { ...range, country: bad }, ctx), 'country');
      await refused(totals(db.client, { ...range, device: bad }, ctx), 'device');
      await refused(totals(db.client, { ...range, trafficSource: bad }, ctx), 'trafficSource');
      await refused(totals(db.client, { ...range, from: bad }, ctx), 'from');
      await refused(breakdown(db.client, { ...range, dimension: bad as never }, ctx), 'dimension');
      await refused(recentRejected(db.client, { since: bad }, ctx), 'since');
    }
  });

  it('invalid ranges, zones, limits and ids get a clear message', async () => {
    await expect(viewsOverTime(db.client, { from: '2030-03-21', to: '2030-03-18' }, ctx)).rejects.toThrow(/to: must be after from/);
    await expect(totals(db.client, { from: '2000-01-01', to: '2030-03-18' }, ctx)).rejects.toThrow(/to: range longer than 3660 days/);
    await expect(viewsOverTime(db.client, { ...range, tz: 'Mars/Olympus' }, ctx)).rejects.toThrow(/tz: unknown time zone "Mars\/Olympus"/);
    await expect(breakdown(db.client, { ...range, dimension: 'country', limit: 0 }, ctx)).rejects.toThrow(/limit: expected an integer in 1..1000/);
    await expect(trending(db.client, { windowMinutes: 100_000 }, ctx)).rejects.toThrow(/windowMinutes/);
    await expect(totals(db.client, { ...range, videoId: 'v'.repeat(200) }, ctx)).rejects.toThrow(/videoId: too long/);
    await expect(outcomeCounts(db.client, { ...range, videoId: '' })).rejects.toThrow(/videoId: expected a non-empty string/);
  });
});
