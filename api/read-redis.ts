import { createRedisClient, type RedisClient } from '../sinks/redis-client.ts';

/**
 * A Redis (or Redis Cluster) client for the read path: short timeouts and no offline queue, so
 * that while Redis is down a read fails at once and the API answers from ClickHouse instead of
 * waiting; it keeps reconnecting in the background (at most every 2 s).
 */
export function createReadRedis(url: string, opts: { commandTimeoutMs?: number } = {}): RedisClient {
  return createRedisClient(url, {
    redis: {
      commandTimeout: opts.commandTimeoutMs ?? 150,
      connectTimeout: 1_000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      // No auto-pipelining: at 5 000 req/s a tick rarely holds more than one request, and the
      // pipeline built per tick cost more than it saved (bench read API: p99 12–19 ms with it,
      // 5–7 ms without, ~15 % more CPU per request; runs interleaved, 2026-12-02).
      enableAutoPipelining: false,
    },
    cluster: { clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2_000) },
  });
}

/** Resolves once the client is ready, or after `timeoutMs` whatever its state (the API answers from ClickHouse meanwhile). */
export function redisReady(redis: RedisClient, timeoutMs = 3_000): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
