import { createRedisClient, type RedisClient } from '../sinks/redis-client.ts';

/**
 * A Redis (or Redis Cluster) client for a command that runs once (status, reconcile): connected
 * before it is returned, and failing at once with the cause (e.g. ECONNREFUSED) when Redis does
 * not answer, instead of retrying in the background and printing every failed attempt.
 */
export async function connectCommandRedis(url: string): Promise<RedisClient> {
  const redis = createRedisClient(url, {
    redis: { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 1, retryStrategy: () => null },
    cluster: { lazyConnect: true, clusterRetryStrategy: () => null },
  });
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    // connect() only says "Connection is closed."; the error event said why.
    throw cause ?? err;
  }
  return redis;
}
