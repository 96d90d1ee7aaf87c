import { loadavg } from 'node:os';
import { masters, type RedisClient } from '../sinks/redis-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { liveViews, type CounterScope } from '../sinks/live-counters.ts';
import { startChild, type BenchChild } from './bench-child.ts';
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

/** Starts `viewtally serve` (no collector) on a free loopback port; resolves with its address once it listens. */
async function startServe(ctx: { redisUrl: string; clickhouse: string; scope: CounterScope }): Promise<{ address: string; child: BenchChild }> {
  let listening: (address: string) => void = () => {};
  const address = new Promise<string>((resolve) => (listening = resolve));
  const child = startChild(
    'bin/viewtally.mjs',
    null,
    {
      name: `api-serve-${Date.now().toString(36)}`,
      rawArgs: ['serve', '--port', '0', '--no-collector', '--redis', ctx.redisUrl, '--clickhouse', ctx.clickhouse, '--group', ctx.scope.group, '--topic', ctx.scope.topic],
      // the addresses given are the ones served, whatever VT_CLUSTER says
      env: { VT_CLUSTER: '' },
      onLine: (line) => {
        const m = /^listening on (\S+)/.exec(line);
        if (m !== null) listening(m[1]);
      },
    },
  );
  // cancelled once settled: a pending 60 s timer would hold a process that does not exit on its own
  const waiting = new AbortController();
  const timeout = sleep(60_000, undefined, { signal: waiting.signal }).then(() => Promise.reject(new Error('api: viewtally serve did not listen within 60 s')));
  const exited = child.done.then(() => Promise.reject(new Error('api: viewtally serve exited before listening')));
  try {
    return { address: await Promise.race([address, timeout, exited]), child };
  } catch (err) {
    child.stop();
    throw err;
  } finally {
    waiting.abort();
  }
}

/**
 * Loads the read API as it runs in production, a `viewtally serve` process of its own, from a
 * child with autocannon, cycling over benchmark videos that have a live counter (the popular ones
 * first, as real traffic would). Served from this process instead, the API shared its heap and
 * event loop with the benchmark's pre-loaded pools and clients, and measured those too.
 */
export async function runApiLoad(ctx: { redisUrl: string; clickhouse: string; redis: RedisClient; scope: CounterScope; rate: number; seconds: number; log: (line: string) => void }): Promise<ApiResult> {
  const candidates = Array.from({ length: 5_000 }, (_, rank) => `${BENCH_VIDEO_PREFIX}v${rank}`);
  const counts = await liveViews(ctx.redis, ctx.scope, candidates);
  const ids = candidates.filter((_, i) => counts[i] > 0);
  if (ids.length === 0) throw new Error('api: no benchmark video has a live counter (did the job run?)');
  const serve = await startServe(ctx);
  try {
    const connections = Math.max(4, Math.min(64, Math.round(ctx.rate / 200)));
    ctx.log(`api: ${ctx.rate} req/s for ${ctx.seconds} s over ${ids.length} videos`);
    await persistenceSettled(ctx.redis, ctx.log);
    const forksBefore = await redisForks(ctx.redis);
    // A few seconds of the same load first, not measured: the figure is a warm server's.
    const warmupSeconds = Math.min(3, ctx.seconds);
    const child = startChild('bench/api-load-child.ts', { url: serve.address, ids, rate: ctx.rate, seconds: ctx.seconds, connections, warmupSeconds }, { name: `api-${Date.now().toString(36)}` });
    const r = (await child.done) as Omit<ApiResult, 'targetRate' | 'connections' | 'videos' | 'loadAverage' | 'redisForks'>;
    const forks = (await redisForks(ctx.redis)) - forksBefore;
    const result: ApiResult = { ...r, targetRate: ctx.rate, connections, videos: ids.length, requestsPerSecond: Math.round(r.requestsPerSecond), loadAverage: loadavg().map((x) => round(x, 2)), redisForks: forks };
    ctx.log(`api: ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms${forks > 0 ? ` (Redis forked ${forks}× meanwhile)` : ''}`);
    return result;
  } finally {
    serve.child.stop();
    await serve.child.done.catch(() => {});
  }
}
