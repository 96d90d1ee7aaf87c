import { Redis } from 'ioredis';

/**
 * A Redis client for the read path: short timeouts and no offline queue, so that while Redis
 * is down a read fails at once and the API answers from ClickHouse instead of waiting; it
 * keeps reconnecting in the background (at most every 2 s).
 */
export function createReadRedis(url: string, opts: { commandTimeoutMs?: number } = {}): Redis {
  const redis = new Redis(url, {
    commandTimeout: opts.commandTimeoutMs ?? 150,
    connectTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // Commands issued in the same tick share one write: concurrent requests cost one round trip.
    enableAutoPipelining: true,
  });
  // Errors surface per command and as a not-ready status; without a listener ioredis prints each one.
  redis.on('error', () => {});
  return redis;
}

/** Resolves once the client is ready, or after `timeoutMs` whatever its state (the API answers from ClickHouse meanwhile). */
export function redisReady(redis: Redis, timeoutMs = 3_000): Promise<boolean> {
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
