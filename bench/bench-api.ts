import { loadavg } from 'node:os';
import { pino } from 'pino';
import { masters, type RedisClient } from '../sinks/redis-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApiServer } from '../api/server.ts';
import { createReadRedis, redisReady } from '../api/read-redis.ts';
import { liveViews, type CounterScope } from '../sinks/live-counters.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { startChild } from './bench-child.ts';
import { BENCH_VIDEO_PREFIX } from './bench-stream.ts';
import { round } from './bench-throughput.ts';

/** `GET /v1/videos/{id}/views` at a fixed rate. */
export interface ApiResult {
  targetRate: number;
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  connections: number;
  /** Distinct videos asked for (all with a live counter, so every answer comes from Redis). */
  videos: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  loadAverage: number[];
  /** Forks of the Redis servers (AOF rewrite, RDB save) while the load ran: each blocks its server for the fork. */
  redisForks: number;
}

/** Forks the Redis servers (every master) have made since they started. */
async function redisForks(redis: RedisClient): Promise<number> {
  let n = 0;
  for (const node of masters(redis)) n += Number(/total_forks:(\d+)/.exec(await node.info('stats'))?.[1] ?? 0);
  return n;
}

/** Waits (at most a minute) while a Redis server rewrites its AOF or saves: the measure is of the API, not of a fork's aftermath. */
async function persistenceSettled(redis: RedisClient, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const busy = await Promise.all(masters(redis).map(async (node) => /(aof_rewrite|rdb_bgsave)_in_progress:1/.test(await node.info('persistence'))));
    if (!busy.includes(true) || Date.now() > deadline) return;
    log('api: waiting for a Redis AOF rewrite or save to end');
    await sleep(1_000);
  }
}

/**
 * Serves the read API in this process (`createApiServer`, as `viewtally serve` builds it, on
 * loopback) and loads it from a child with autocannon, cycling over benchmark videos that have a
 * live counter (the popular ones first, as real traffic would).
 */
export async function runApiLoad(ctx: { redisUrl: string; clickhouse: string; redis: RedisClient; scope: CounterScope; rate: number; seconds: number; log: (line: string) => void }): Promise<ApiResult> {
  const candidates = Array.from({ length: 5_000 }, (_, rank) => `${BENCH_VIDEO_PREFIX}v${rank}`);
  const counts = await liveViews(ctx.redis, ctx.scope, candidates);
  const ids = candidates.filter((_, i) => counts[i] > 0);
  if (ids.length === 0) throw new Error('api: no benchmark video has a live counter (did the job run?)');
  const redis = createReadRedis(ctx.redisUrl);
  await redisReady(redis);
  const clickhouse = createClickHouseClient(ctx.clickhouse, { requestTimeoutMs: 10_000 });
  const app = await createApiServer({ redis, counterScope: ctx.scope, clickhouse, topic: ctx.scope.topic, log: pino({ level: 'warn' }) });
  try {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const connections = Math.max(4, Math.min(64, Math.round(ctx.rate / 200)));
    ctx.log(`api: ${ctx.rate} req/s for ${ctx.seconds} s over ${ids.length} videos`);
    await persistenceSettled(ctx.redis, ctx.log);
    const forksBefore = await redisForks(ctx.redis);
    // A few seconds of the same load first, not measured: the figure is a warm server's.
    const warmupSeconds = Math.min(3, ctx.seconds);
    const child = startChild('bench/api-load-child.ts', { url: address, ids, rate: ctx.rate, seconds: ctx.seconds, connections, warmupSeconds }, { name: `api-${Date.now().toString(36)}` });
    const r = (await child.done) as Omit<ApiResult, 'targetRate' | 'connections' | 'videos' | 'loadAverage' | 'redisForks'>;
    const forks = (await redisForks(ctx.redis)) - forksBefore;
    const result: ApiResult = { ...r, targetRate: ctx.rate, connections, videos: ids.length, requestsPerSecond: Math.round(r.requestsPerSecond), loadAverage: loadavg().map((x) => round(x, 2)), redisForks: forks };
    ctx.log(`api: ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms${forks > 0 ? ` (Redis forked ${forks}× meanwhile)` : ''}`);
    return result;
  } finally {
    await app.close();
    redis.disconnect();
    await clickhouse.close();
  }
}
