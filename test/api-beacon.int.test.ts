/**
 * The beacon collector end to end: events POSTed to a server with a real idempotent Kafka
 * producer on a topic of this run, then `viewtally run --until-idle`, then the counts in Redis
 * and ClickHouse are exactly what was posted. Also the collector's refusals: 400 naming the
 * field, 413 past the body limit, 429 past the per-IP rate, and CORS for player origins.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../sinks/redis-client.ts';
import { createLiveCounterReader } from '../sinks/live-counters.ts';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadRedis } from '../api/read-redis.ts';
import { createApiServer } from '../api/server.ts';
import { createLogger } from '../pipeline/logger.ts';
import { ensureTopic } from '../pipeline/topic.ts';
import { clickhouse, lastJson, localConfig, redis, rows, runCli, uniqueName } from './harness.ts';

const topic = uniqueName('api-beacon');
const videoA = `${topic}-a`;
const videoB = `${topic}-b`;
const PLAYER = 'https://player.example';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const RATE = 5;
const base = Date.now() - 5 * 60_000;

let producer: Producer;
let app: FastifyInstance;
let readRedis: RedisClient;
let rd: RedisClient;
let ch: ClickHouseClient;

function event(i: number, video: string, viewer: string, over: Record<string, unknown> = {}) {
  return {
    event_id: `${topic}-e${i}`,
    event_type: 'view',
    video_id: video,
    channel_id: `${topic}-ch`,
    category: 'music',
    viewer_id: viewer,
    session_id: `s-${viewer}`,
    ts: base + i * 5_000,
    watch_ms: 40_000 + i * 1_000,
    video_duration_ms: 600_000,
    country: i % 2 === 0 ? 'US' : 'BR',
    device: 'mobile',
    traffic_source: 'search',
    ...over,
  };
}

/** POSTs as a player on its own address would (behind the load balancer: X-Forwarded-For). */
function post(body: unknown, ip: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/beacon',
    headers: { 'content-type': 'application/json', 'user-agent': UA, 'x-forwarded-for': ip, origin: PLAYER, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  const config = localConfig();
  const kafka = new Kafka({ clientId: 'api-beacon-test', brokers: config.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, topic, 2);
  await admin.disconnect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  ch = await clickhouse();
  rd = redis();
  readRedis = createReadRedis(config.redis);
  app = await createApiServer({
    redis: readRedis,
    clickhouse: ch,
    kafkaProducer: producer,
    topic,
    log: createLogger('api-beacon-test', 'silent'),
    corsOrigins: [PLAYER],
    trustProxy: true,
    rateLimit: { ratePerWindow: RATE, windowMs: 60_000 },
  });
});

afterAll(async () => {
  await app?.close();
  await producer?.disconnect();
  readRedis?.disconnect();
  rd?.disconnect();
  await ch?.close();
});

describe('collector → Kafka → job → Redis and ClickHouse', () => {
  it('counts exactly the views that were posted', async () => {
    let ip = 0;
    const nextIp = () => `198.51.100.${++ip}`;
    // video A: 7 views of 7 viewers, one at a time; B: 5 views in one array request
    for (let i = 0; i < 7; i++) {
      const res = await post(event(i, videoA, `a${i}`), nextIp());
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json()).toEqual({ accepted: 1 });
      expect(res.headers['access-control-allow-origin']).toBe(PLAYER);
    }
    const batch = await post([10, 11, 12, 13, 14].map((i) => event(i, videoB, `b${i}`)), nextIp());
    expect(batch.statusCode, batch.body).toBe(202);
    expect(batch.json()).toEqual({ accepted: 5 });
    // what the job must not count: a retried beacon, a heartbeat, a short watch
    const retryIp = '198.51.100.1';
    expect((await post(event(0, videoA, 'a0'), retryIp)).statusCode).toBe(202);
    expect((await post(event(20, videoA, 'a20', { event_type: 'heartbeat' }), nextIp())).statusCode).toBe(202);
    // navigator.sendBeacon sends text/plain
    expect((await post(JSON.stringify(event(21, videoA, 'a21', { watch_ms: 2_000 })), nextIp(), { 'content-type': 'text/plain;charset=UTF-8' })).statusCode).toBe(202);

    const { stdout } = await runCli(['run', '--until-idle', '--topic', topic, '--group', topic]);
    const summary = lastJson<{ events: number; byOutcome: Record<string, number> }>(stdout);
    expect(summary.events).toBe(15);
    expect(summary.byOutcome).toEqual({ counted: 12, duplicate: 1, not_a_view: 1, too_short: 1 });

    expect(await createLiveCounterReader(rd, { group: topic, topic }).many([videoA, videoB])).toEqual([
      { views: 7, unique_viewers: 7 },
      { views: 5, unique_viewers: 5 },
    ]);

    const stored = await rows<{ video_id: string; country: string; views: string; uniq: string }>(
      ch,
      `SELECT video_id, country, sum(views) AS views, uniqCombinedMerge(15)(unique_viewers) AS uniq FROM views_minute
       WHERE video_id IN ({a:String}, {b:String}) GROUP BY video_id, country ORDER BY video_id, country`,
      { a: videoA, b: videoB },
    );
    expect(stored.map((r) => [r.video_id, r.country, Number(r.views), Number(r.uniq)])).toEqual([
      [videoA, 'BR', 3, 3],
      [videoA, 'US', 4, 4],
      [videoB, 'BR', 2, 2],
      [videoB, 'US', 3, 3],
    ]);
    const live = await app.inject({ url: `/v1/videos/${encodeURIComponent(videoA)}/views` });
    expect(live.json()).toMatchObject({ views: 7, unique_viewers: 7, source: 'redis' });
  });
});

describe('collector refusals', () => {
  it('400 naming the field of a bad event, the whole request refused', async () => {
    const bad = await post(event(30, videoA, 'x', { watch_ms: 'long' }), '198.51.100.101');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'invalid_event', parameter: 'watch_ms', message: expect.stringMatching(/^watch_ms: /) });

    const missing = await post({ ...event(31, videoA, 'x'), video_id: undefined }, '198.51.100.102');
    expect(missing.json()).toMatchObject({ parameter: 'video_id', message: 'video_id: missing (required)' });

    const inArray = await post([event(32, videoA, 'x'), event(33, videoA, 'y', { device: 'fridge' })], '198.51.100.103');
    expect(inArray.statusCode).toBe(400);
    expect(inArray.json()).toMatchObject({ parameter: 'device', message: expect.stringMatching(/^events\[1\]\.device: /) });

    const notJson = await post('{"event_id": ', '198.51.100.104');
    expect(notJson.statusCode).toBe(400);
  });

  it('413 for a body past 16 KiB', async () => {
    const res = await post(event(40, videoA, 'x', { category: 'c'.repeat(17 * 1024) }), '198.51.100.105');
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('payload_too_large');
  });

  it(`429 past ${RATE} requests per minute from one address, other addresses unaffected`, async () => {
    const ip = '198.51.100.150';
    const codes: number[] = [];
    for (let i = 0; i < RATE + 2; i++) codes.push((await post({}, ip)).statusCode);
    expect(codes).toEqual([...Array(RATE).fill(400), 429, 429]);
    const limited = await post({}, ip);
    expect(limited.json().error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post({}, '198.51.100.151')).statusCode).toBe(400);
  });

  it('CORS: a configured player origin may post, another may not', async () => {
    const preflight = (origin: string) =>
      app.inject({ method: 'OPTIONS', url: '/v1/beacon', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const ok = await preflight(PLAYER);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(PLAYER);
    expect(String(ok.headers['access-control-allow-methods'])).toContain('POST');
    const other = await preflight('https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
