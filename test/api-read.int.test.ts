/**
 * The read API against the real local Redis and ClickHouse: live counts from Redis and their
 * ClickHouse fallback (cold key, Redis unreachable), creator analytics and admin routes over
 * seeded rollup rows of this run's own videos, validation answers, and the OpenAPI document.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../sinks/redis-client.ts';
import { createLiveCounterReader } from '../sinks/live-counters.ts';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadRedis, redisReady } from '../api/read-redis.ts';
import { createApiServer } from '../api/server.ts';
import { createLogger } from '../pipeline/logger.ts';
import { clickhouse, localConfig, redis, uniqueName } from './harness.ts';

const MINUTE = 60_000;
const TOKEN = uniqueName('admin-token');
const run = uniqueName('api-read');
const channel = `${run}-ch`;
const videoBoth = `${run}-both`; // counter in Redis and rows in ClickHouse
const videoCold = `${run}-cold`; // rows in ClickHouse only
const videoRedisOnly = `${run}-redis`; // counter in Redis only
const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();

const log = createLogger('api-read-test', 'silent');
let ch: ClickHouseClient;
let seedRedis: RedisClient;
let readRedis: RedisClient;
let deadRedis: RedisClient;
let app: FastifyInstance;
let appRedisDown: FastifyInstance;
let appNoToken: FastifyInstance;

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function row(minuteMs: number, video_id: string, country: string, device: string, traffic_source: string, views: number, viewers: string[]) {
  return { minute: minuteMs / 1000, video_id, channel_id: channel, category: 'music', country, device, traffic_source, views, viewers };
}

async function get(server: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const res = await server.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

const range = (from: number, to: number, extra = '') => `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}${extra}`;

beforeAll(async () => {
  ch = await clickhouse();
  await ch.insert({
    table: 'views_minute_in',
    format: 'JSONEachRow',
    values: [
      row(t0, videoBoth, 'US', 'mobile', 'search', 3, ['a', 'b', 'c']),
      row(t0 + MINUTE, videoBoth, 'US', 'desktop', 'direct', 2, ['a', 'd']),
      row(t0 + 5 * MINUTE, videoBoth, 'FR', 'tv', 'suggested', 5, ['e', 'f', 'g', 'h', 'i']),
      row(t0 + 10 * MINUTE, videoBoth, 'DE', 'mobile', 'search', 4, ['a', 'j']),
      row(t0 + 2 * MINUTE, videoCold, 'US', 'mobile', 'external', 7, ['k']),
    ],
  });
  await ch.insert({
    table: 'view_outcomes_minute',
    format: 'JSONEachRow',
    values: [
      { minute: t0 / 1000, video_id: videoBoth, outcome: 'counted', events: 9 },
      { minute: t0 / 1000 + 60, video_id: videoBoth, outcome: 'counted', events: 5 },
      { minute: t0 / 1000, video_id: videoBoth, outcome: 'bot', events: 3 },
      { minute: t0 / 1000, video_id: videoBoth, outcome: 'duplicate', events: 2 },
    ],
  });
  await ch.insert({
    table: 'rejected_views',
    format: 'JSONEachRow',
    values: [
      { ts: String((t0 + 1_500) / 1000), video_id: videoBoth, event_id: `${run}-e1`, score: 1, reasons: ['ua_bot'], ip_hash: 'h', ip_prefix: '203.0.113.0/24', user_agent: 'curl/8.0' },
      { ts: String((t0 + 2_500) / 1000), video_id: videoBoth, event_id: `${run}-e2`, score: 1.6, reasons: ['ip_velocity', 'datacenter_ip'], ip_hash: 'h', ip_prefix: '3.1.2.0/24', user_agent: 'Mozilla/5.0' },
    ],
  });

  seedRedis = redis();
  await seedRedis.set(`vt:views:${videoBoth}`, 14, 'EX', 3600);
  await seedRedis.pfadd(`vt:uniq:${videoBoth}`, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
  await seedRedis.set(`vt:views:${videoRedisOnly}`, 1234, 'EX', 3600);
  await seedRedis.pfadd(`vt:uniq:${videoRedisOnly}`, ...Array.from({ length: 50 }, (_, i) => `u${i}`));
  await seedRedis.expire(`vt:uniq:${videoBoth}`, 3600);
  await seedRedis.expire(`vt:uniq:${videoRedisOnly}`, 3600);

  readRedis = createReadRedis(localConfig().redis);
  expect(await redisReady(readRedis)).toBe(true);
  deadRedis = createReadRedis(`redis://127.0.0.1:${await closedPort()}`);
  const deps = { clickhouse: ch, topic: 'unused', log };
  app = await createApiServer({ ...deps, redis: readRedis, adminToken: TOKEN });
  appRedisDown = await createApiServer({ ...deps, redis: deadRedis, adminToken: TOKEN });
  appNoToken = await createApiServer({ ...deps, redis: readRedis });
});

afterAll(async () => {
  await Promise.all([app?.close(), appRedisDown?.close(), appNoToken?.close()]);
  readRedis?.disconnect();
  deadRedis?.disconnect();
  await seedRedis?.del(`vt:views:${videoBoth}`, `vt:uniq:${videoBoth}`, `vt:views:${videoRedisOnly}`, `vt:uniq:${videoRedisOnly}`);
  seedRedis?.disconnect();
  await ch?.close();
});

describe('live counts', () => {
  it('answers from Redis when the counter is there', async () => {
    const { status, body } = await get(app, `/v1/videos/${encodeURIComponent(videoRedisOnly)}/views`);
    expect(status).toBe(200);
    expect(body).toEqual({ video_id: videoRedisOnly, views: 1234, unique_viewers: (await createLiveCounterReader(seedRedis).one(videoRedisOnly))?.unique_viewers, known: true, as_of: expect.any(String), source: 'redis' });
    expect(Math.abs(Date.parse(body.as_of) - Date.now())).toBeLessThan(5_000);
  });

  it('falls back to ClickHouse for a video Redis has no counter for', async () => {
    const { status, body } = await get(app, `/v1/videos/${encodeURIComponent(videoCold)}/views`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ video_id: videoCold, views: 7, unique_viewers: 1, known: true, source: 'clickhouse' });
  });

  it('says when no event of a video ever arrived (a typo), and when one did but none counted', async () => {
    const unknown = `${run}-never-sent`;
    expect(await get(app, `/v1/videos/${encodeURIComponent(unknown)}/views`)).toMatchObject({ status: 200, body: { video_id: unknown, views: 0, unique_viewers: 0, known: false, source: 'clickhouse' } });
    const rejected = `${run}-only-bots`;
    await ch.insert({ table: 'view_outcomes_minute', format: 'JSONEachRow', values: [{ minute: t0 / 1000, video_id: rejected, outcome: 'bot', events: 4 }] });
    expect(await get(app, `/v1/videos/${encodeURIComponent(rejected)}/views`)).toMatchObject({ status: 200, body: { views: 0, known: true } });
  });

  it('falls back to ClickHouse, quickly, when Redis is unreachable', async () => {
    const { body: fromRedis } = await get(app, `/v1/videos/${encodeURIComponent(videoBoth)}/views`);
    expect(fromRedis).toMatchObject({ views: 14, unique_viewers: 10, source: 'redis' });
    const started = Date.now();
    const { status, body } = await get(appRedisDown, `/v1/videos/${encodeURIComponent(videoBoth)}/views`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ video_id: videoBoth, views: 14, unique_viewers: 10, source: 'clickhouse' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await get(appRedisDown, '/readyz')).status).toBe(503);
    expect((await get(appRedisDown, '/healthz')).status).toBe(200);
  });

  it('answers a batch, each video from where it can', async () => {
    const ids = [videoRedisOnly, videoCold, videoBoth].map(encodeURIComponent).join(',');
    const { status, body } = await get(app, `/v1/views?ids=${ids}`);
    expect(status).toBe(200);
    expect(body.videos.map((v: any) => [v.video_id, v.views, v.source])).toEqual([
      [videoRedisOnly, 1234, 'redis'],
      [videoCold, 7, 'clickhouse'],
      [videoBoth, 14, 'redis'],
    ]);
    const tooMany = Array.from({ length: 51 }, (_, i) => `v${i}`).join(',');
    expect(await get(app, `/v1/views?ids=${tooMany}`)).toMatchObject({ status: 400, body: { parameter: 'ids', message: 'ids: at most 50 ids, got 51' } });
  });

  it('is ready when Redis and ClickHouse answer', async () => {
    expect(await get(app, '/readyz')).toEqual({ status: 200, body: { status: 'ready', redis: 'ok', clickhouse: 'ok' } });
  });
});

describe('analytics', () => {
  const win = range(t0 - 10 * MINUTE, t0 + 20 * MINUTE);

  it('series: minute buckets with every seeded minute, zeros between', async () => {
    const { status, body } = await get(app, `/v1/analytics/views-over-time?${win}&video_id=${videoBoth}`);
    expect(status).toBe(200);
    expect(body.granularity).toBe('minute');
    expect(body.points).toHaveLength(30);
    const nonZero = body.points.filter((p: any) => p.views > 0).map((p: any) => [Date.parse(p.t) - t0, p.views, p.unique_viewers]);
    expect(nonZero).toEqual([[0, 3, 3], [MINUTE, 2, 2], [5 * MINUTE, 5, 5], [10 * MINUTE, 4, 2]]);
  });

  it('series: hour buckets over days, in the requested time zone', async () => {
    const { body } = await get(app, `/v1/analytics/views-over-time?${range(t0 - 3 * 86_400_000, t0 + 3_600_000)}&channel_id=${channel}&tz=Asia/Kolkata`);
    expect(body.granularity).toBe('hour');
    expect(body.tz).toBe('Asia/Kolkata');
    expect(body.points.every((p: any) => p.t.endsWith('+05:30'))).toBe(true);
    expect(body.points.reduce((s: number, p: any) => s + p.views, 0)).toBe(21);
  });

  it('breakdowns by country, device and traffic source', async () => {
    const q = `${win}&video_id=${videoBoth}`;
    const rows = async (dimension: string) => (await get(app, `/v1/analytics/breakdown?${q}&dimension=${dimension}`)).body.rows;
    expect(await rows('country')).toEqual([
      { value: 'FR', views: 5, unique_viewers: 5 },
      { value: 'US', views: 5, unique_viewers: 4 },
      { value: 'DE', views: 4, unique_viewers: 2 },
    ]);
    expect(await rows('device')).toEqual([
      { value: 'mobile', views: 7, unique_viewers: 4 },
      { value: 'tv', views: 5, unique_viewers: 5 },
      { value: 'desktop', views: 2, unique_viewers: 2 },
    ]);
    expect(await rows('traffic_source')).toEqual([
      { value: 'search', views: 7, unique_viewers: 4 },
      { value: 'suggested', views: 5, unique_viewers: 5 },
      { value: 'direct', views: 2, unique_viewers: 2 },
    ]);
    const filtered = await get(app, `/v1/analytics/breakdown?${win}&channel_id=${channel}&device=mobile&dimension=video_id`);
    expect(filtered.body.rows).toEqual([
      { value: videoBoth, views: 7, unique_viewers: 4 },
      { value: videoCold, views: 7, unique_viewers: 1 },
    ]);
  });

  it('totals merge unique viewers over the range; category filter', async () => {
    expect((await get(app, `/v1/analytics/totals?${win}&channel_id=${channel}`)).body).toMatchObject({ views: 21, unique_viewers: 11 });
    expect((await get(app, `/v1/analytics/totals?${win}&channel_id=${channel}&category=music&country=US`)).body).toMatchObject({ views: 12, unique_viewers: 5 });
    expect((await get(app, `/v1/analytics/totals?${win}&channel_id=${channel}&category=gaming`)).body).toMatchObject({ views: 0, unique_viewers: 0 });
  });

  it('trending within a channel', async () => {
    const { status, body } = await get(app, `/v1/trending?channel_id=${channel}&window_minutes=120`);
    expect(status).toBe(200);
    expect(body.videos.map((v: any) => [v.video_id, v.views])).toEqual([[videoBoth, 14], [videoCold, 7]]);
    expect(body.window_minutes).toBe(120);
  });
});

describe('admin routes', () => {
  const outcomesUrl = `/v1/admin/outcomes?video_id=${videoBoth}&${range(t0 - MINUTE, t0 + 5 * MINUTE)}`;

  it('refuse without the token, with a wrong one, and when none is configured', async () => {
    for (const headers of <Record<string, string>[]>[{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: 'Bearer ' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await get(app, outcomesUrl, headers);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
    expect((await get(app, '/v1/admin/rejected?limit=oops')).status).toBe(401);
    expect((await get(appNoToken, outcomesUrl, { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
  });

  it('outcome counts per video and range', async () => {
    const { status, body } = await get(app, outcomesUrl, { authorization: `Bearer ${TOKEN}` });
    expect(status).toBe(200);
    expect(body).toEqual({ video_id: videoBoth, outcomes: { bot: 3, counted: 14, duplicate: 2 } });
  });

  it('recent rejected events with their reasons, newest first', async () => {
    const { status, body } = await get(app, `/v1/admin/rejected?video_id=${videoBoth}&since=${encodeURIComponent(iso(t0 - MINUTE))}`, { authorization: `Bearer ${TOKEN}` });
    expect(status).toBe(200);
    expect(body.events.map((e: any) => [e.event_id, e.reasons, e.ip_prefix])).toEqual([
      [`${run}-e2`, ['ip_velocity', 'datacenter_ip'], '3.1.2.0/24'],
      [`${run}-e1`, ['ua_bot'], '203.0.113.0/24'],
    ]);
  });
});

describe('validation', () => {
  const win = range(t0 - 10 * MINUTE, t0 + 20 * MINUTE);
  const expect400 = async (url: string, parameter: string, message?: RegExp) => {
    const { status, body } = await get(app, url, { authorization: `Bearer ${TOKEN}` });
    expect({ url, status }).toEqual({ url, status: 400 });
    expect(body.parameter).toBe(parameter);
    expect(body.message).toMatch(message ?? new RegExp(`^${parameter}: `));
  };

  it('bad ids', async () => {
    await expect400(`/v1/videos/${'x'.repeat(129)}/views`, 'id', /more than 128 characters/);
    await expect400('/v1/videos/a%01b/views', 'id', /control characters/);
    await expect400('/v1/views?ids=a,,b', 'ids', /empty id/);
    await expect400(`/v1/views?ids=a,${'y'.repeat(129)}`, 'ids', /too long/);
    await expect400(`/v1/analytics/totals?${win}&video_id=%7F`, 'video_id');
  });

  it('reversed, huge and out-of-range time ranges', async () => {
    await expect400(`/v1/analytics/totals?${range(t0, t0 - MINUTE)}`, 'to', /must be after from/);
    await expect400('/v1/analytics/views-over-time?from=2000-01-01T00:00:00Z&to=2099-01-01T00:00:00Z', 'to', /range longer than 3660 days/);
    await expect400('/v1/analytics/totals?from=1990-01-01&to=1991-01-01', 'from', /out of range/);
    await expect400('/v1/analytics/totals?from=yesterday&to=today', 'from', /not a valid time/);
    await expect400(`/v1/analytics/totals?from=${t0}`, 'to', /missing/);
  });

  it('unknown dimensions, zones, enum values and parameters', async () => {
    await expect400(`/v1/analytics/breakdown?${win}&dimension=city`, 'dimension', /expected one of country, device, traffic_source/);
    await expect400(`/v1/analytics/breakdown?${win}`, 'dimension', /missing/);
    await expect400(`/v1/analytics/totals?${win}&tz=Mars/Olympus`, 'tz', /unknown time zone/);
    await expect400(`/v1/analytics/totals?${win}&device=fridge`, 'device', /expected one of desktop/);
    await expect400(`/v1/analytics/totals?${win}&country=usa`, 'country', /alpha-2/);
    await expect400(`/v1/analytics/totals?${win}&videoid=x`, 'videoid', /unknown/);
    await expect400(`/v1/trending?window_minutes=100000`, 'window_minutes', /<= 1440/);
    await expect400(`/v1/analytics/breakdown?${win}&dimension=country&limit=0`, 'limit', />= 1/);
  });

  const INJECTIONS = ["x' OR '1'='1", '1; DROP TABLE views_minute --', "{videoId:String}') UNION ALL SELECT * FROM system.tables --", '\\\'"`'];

  it('injection strings: refused where the value has a shape, bound as plain values where it is free text', async () => {
    for (const bad of INJECTIONS) {
      const v = encodeURIComponent(bad);
      await expect400(`/v1/analytics/totals?from=${v}&to=${encodeURIComponent(iso(t0))}`, 'from');
      await expect400(`/v1/analytics/totals?from=${encodeURIComponent(iso(t0))}&to=${v}`, 'to');
      await expect400(`/v1/analytics/totals?${win}&tz=${v}`, 'tz');
      await expect400(`/v1/analytics/totals?${win}&country=${v}`, 'country');
      await expect400(`/v1/analytics/totals?${win}&device=${v}`, 'device');
      await expect400(`/v1/analytics/totals?${win}&traffic_source=${v}`, 'traffic_source');
      await expect400(`/v1/analytics/breakdown?${win}&dimension=${v}`, 'dimension');
      await expect400(`/v1/analytics/breakdown?${win}&dimension=country&limit=${v}`, 'limit');
      await expect400(`/v1/trending?window_minutes=${v}`, 'window_minutes');
      await expect400(`/v1/admin/rejected?since=${v}`, 'since');
      await expect400(`/v1/admin/outcomes?video_id=a&from=${v}&to=${encodeURIComponent(iso(t0))}`, 'from');
      // Ids and categories are free text in the event contract: any of these could be a real id,
      // so they must match nothing rather than be refused, and change nothing.
      for (const p of ['video_id', 'channel_id', 'category']) {
        const { status, body } = await get(app, `/v1/analytics/totals?${win}&${p}=${v}`);
        expect({ p, status, views: body.views }).toEqual({ p, status: 200, views: 0 });
      }
      const live = await get(app, `/v1/videos/${v}/views`);
      expect(live).toMatchObject({ status: 200, body: { video_id: bad, views: 0 } });
      expect((await get(app, `/v1/views?ids=${v}`)).status).toBe(200);
      expect((await get(app, `/v1/trending?channel_id=${v}`)).body.videos).toEqual([]);
    }
    expect((await get(app, `/v1/analytics/totals?${win}&channel_id=${channel}`)).body).toMatchObject({ views: 21 });
  });
});

describe('documents and listening', () => {
  it('/openapi.json lists every route with its parameters', async () => {
    const { status, body } = await get(app, '/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(Object.keys(body.paths).sort()).toEqual(
      [
        '/healthz', '/readyz', '/v1/admin/outcomes', '/v1/admin/rejected', '/v1/analytics/breakdown', '/v1/analytics/totals',
        '/v1/analytics/views-over-time', '/v1/beacon', '/v1/trending', '/v1/videos/{id}/views', '/v1/views',
      ].sort(),
    );
    const breakdownParams = body.paths['/v1/analytics/breakdown'].get.parameters.map((p: any) => p.name);
    expect(breakdownParams).toEqual(expect.arrayContaining(['from', 'to', 'tz', 'dimension', 'video_id', 'channel_id', 'category']));
    expect(body.paths['/v1/admin/outcomes'].get.security).toEqual([{ adminToken: [] }]);
  });

  it('serves the contract over a real socket', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/v1/videos/${encodeURIComponent(videoBoth)}/views`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ video_id: videoBoth, views: 14, unique_viewers: 10, source: 'redis' });
    const page = await fetch(`${address}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('creator dashboard');
    expect((await fetch(`${address}/vendor/chart.umd.min.js`)).status).toBe(200);
  });
});
