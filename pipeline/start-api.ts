import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { JobConfig } from './config.ts';
import { connectProducer } from './produce.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { loadAdminToken } from '../api/admin-token.ts';
import { createReadRedis, redisReady } from '../api/read-redis.ts';
import { createApiServer } from '../api/server.ts';

/** How to serve the API. */
export interface ApiOptions {
  port: number;
  host: string;
  corsOrigins: string[];
  beaconRatePerMinute: number;
  trustProxy: boolean;
  /** Run the beacon collector (needs Kafka). */
  collector: boolean;
  /** How long one video's live count is reused, so a viral video does not fan out per request. */
  liveCacheMs: number;
  log: Logger;
}

/** The API beside a job on this machine: loopback, collector on, no CORS origins. */
export const LOCAL_API: Omit<ApiOptions, 'port' | 'log'> = { host: '127.0.0.1', corsOrigins: [], beaconRatePerMinute: 120, trustProxy: false, collector: true, liveCacheMs: 250 };

/** A running API: where it listens, and how to stop it with its clients. */
export interface RunningApi {
  address: string;
  close(): Promise<void>;
}

/**
 * Starts the read API, collector and dashboard with their own clients. Used by `serve`, by
 * `run --serve` and by the demo; with an embedded ClickHouse this shares the job's process and
 * data directory.
 */
export async function startApi(config: JobConfig, o: ApiOptions): Promise<RunningApi> {
  const adminToken = loadAdminToken();
  const redis = createReadRedis(config.redis);
  const clickhouse = createClickHouseClient(config.clickhouse, { requestTimeoutMs: 10_000 });
  let producer: Producer | undefined;
  if (o.collector) {
    producer = await connectProducer({ brokers: config.brokers, topic: config.topic, partitions: config.partitions, clientId: 'viewtally-collector' });
  }
  if (!(await redisReady(redis))) o.log.warn({ redis: config.redis }, 'redis not ready; live counts come from ClickHouse until it is');
  const app = await createApiServer({
    redis,
    counterScope: { group: config.group, topic: config.topic },
    liveTtlMs: o.liveCacheMs,
    clickhouse,
    topic: config.topic,
    log: o.log,
    corsOrigins: o.corsOrigins,
    rateLimit: { ratePerWindow: o.beaconRatePerMinute, windowMs: 60_000 },
    ...(producer === undefined ? {} : { kafkaProducer: producer }),
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(o.trustProxy ? { trustProxy: true } : {}),
  });
  const address = await app.listen({ port: o.port, host: o.host });
  o.log.info({ address, topic: config.topic, collector: producer !== undefined, admin: adminToken !== undefined }, 'serving');
  return {
    address,
    async close() {
      await app.close();
      await producer?.disconnect();
      redis.disconnect();
      await clickhouse.close();
    },
  };
}
