import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLiveViewReader, FallbackBusyError } from './live-views.ts';

/** A ClickHouse stand-in whose queries wait until released, counting them. */
function pendingClickHouse() {
  const releases: (() => void)[] = [];
  let queries = 0;
  const client = {
    query: () => {
      queries++;
      return new Promise((resolve) => releases.push(() => resolve({ json: async () => [{ views: '5', unique_viewers: '2' }] })));
    },
  } as unknown as ClickHouseClient;
  return { client, releaseAll: () => releases.splice(0).forEach((r) => r()), queries: () => queries };
}

const redisDown = { status: 'reconnecting' } as unknown as Redis;
const log = pino({ level: 'silent' });

describe('live counts without Redis', () => {
  it('share one ClickHouse query per video while it is in flight and for the cache time', async () => {
    let t = 1_800_000_000_000;
    const ch = pendingClickHouse();
    const reader = createLiveViewReader({ redis: redisDown, clickhouse: ch.client, log, now: () => t, fallbackTtlMs: 1_000 });
    const a = reader.readOne('v1');
    const b = reader.readOne('v1');
    ch.releaseAll();
    expect(await a).toMatchObject({ video_id: 'v1', views: 5, unique_viewers: 2, source: 'clickhouse' });
    expect(await b).toMatchObject({ views: 5 });
    await reader.readOne('v1');
    expect(ch.queries()).toBe(1);
    t += 1_001;
    const c = reader.readOne('v1');
    ch.releaseAll();
    await c;
    expect(ch.queries()).toBe(2);
  });

  it('refuse past the in-flight bound instead of queueing on ClickHouse', async () => {
    const ch = pendingClickHouse();
    const reader = createLiveViewReader({ redis: redisDown, clickhouse: ch.client, log, maxFallbacksInFlight: 2 });
    const first = [reader.readOne('a'), reader.readOne('b')];
    await expect(reader.readOne('c')).rejects.toBeInstanceOf(FallbackBusyError);
    ch.releaseAll();
    await Promise.all(first);
    const again = reader.readOne('c');
    ch.releaseAll();
    expect(await again).toMatchObject({ video_id: 'c', views: 5 });
  });
});
