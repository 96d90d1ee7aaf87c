/**
 * Whether a service really answers, not whether its process runs: Kafka an admin
 * listTopics + describeCluster, Redis PING with its AOF loaded, ClickHouse
 * GET /ping and SELECT 1 through @clickhouse/client.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { createClickHouseClient } from './clickhouse-client.ts';
import type { InfraAddresses, ServiceName } from './infra-paths.ts';

async function kafkaOk(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'viewtally-infra',
    brokers,
    connectionTimeout: Math.min(timeoutMs, 3000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function redisOk(url: string, timeoutMs = 2000): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    if ((await r.ping()) !== 'PONG') return false;
    // PING answers while the AOF is still loading; reads do not.
    const info = await r.info('persistence');
    return /\bloading:0\b/.test(info);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function clickhouseOk(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok || (await res.text()) !== 'Ok.\n') return false;
  } catch {
    return false;
  }
  const ch = createClickHouseClient(url, { requestTimeoutMs: timeoutMs, maxOpenConnections: 1 });
  try {
    const rows = await (await ch.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow' })).json<{ ok: number }>();
    return rows.length === 1 && rows[0].ok === 1;
  } catch {
    return false;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Whether `svc` at its address in `a` answers within `timeoutMs`. */
export function healthy(svc: ServiceName, a: InfraAddresses, timeoutMs?: number): Promise<boolean> {
  switch (svc) {
    case 'kafka':
      return kafkaOk(a.kafka.brokers, timeoutMs);
    case 'redis':
      return redisOk(a.redis.url, timeoutMs);
    case 'clickhouse':
      return clickhouseOk(a.clickhouse.url, timeoutMs);
  }
}
