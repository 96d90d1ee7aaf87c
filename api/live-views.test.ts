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

/** A ClickHouse stand-in answering by query: the rollup totals, and the outcome table's rows for the video. */
function answeringClickHouse(views: number, seen: boolean) {
  return {
    query: async ({ query }: { query: string }) => ({
      json: async () => (query.includes('view_outcomes_minute') ? (seen ? [{ seen: 1 }] : []) : [{ views: String(views), unique_viewers: String(views) }]),
    }),
  } as unknown as ClickHouseClient;
}

describe('what a live count says', () => {
  it('never has more unique viewers than views (the estimate can overshoot)', async () => {
    const redis = { status: 'ready', get: async () => '672', pfcount: async () => 673 } as unknown as Redis;
    const reader = createLiveViewReader({ redis, clickhouse: answeringClickHouse(0, false), log });
    expect(await reader.readOne('v')).toMatchObject({ views: 672, unique_viewers: 672, known: true, source: 'redis' });
  });

  it('tells an id nobody sent from a video whose events were all left out', async () => {
    const unknown = createLiveViewReader({ redis: redisDown, clickhouse: answeringClickHouse(0, false), log });
    expect(await unknown.readOne('typo')).toMatchObject({ video_id: 'typo', views: 0, unique_viewers: 0, known: false, source: 'clickhouse' });
    const watched = createLiveViewReader({ redis: redisDown, clickhouse: answeringClickHouse(0, true), log });
    expect(await watched.readOne('only-bots')).toMatchObject({ views: 0, known: true });
    const counted = createLiveViewReader({ redis: redisDown, clickhouse: answeringClickHouse(3, false), log });
    expect(await counted.read(['a'])).toMatchObject([{ video_id: 'a', views: 3, known: true, source: 'clickhouse' }]);
  });
});

/** A connected Redis stand-in holding one counter per video, counting the reads. */
function countingRedis(views: Record<string, number>) {
  let reads = 0;
  const client = {
    status: 'ready',
    get: async (key: string) => {
      reads++;
      const n = views[key.slice('vt:views:'.length)];
      return n === undefined ? null : String(n);
    },
    pfcount: async () => 3,
  } as unknown as Redis;
  return { client, reads: () => reads };
}

describe('live counts of a hot video', () => {
  it('share one Redis read per video for the cache time, then read afresh', async () => {
    let t = 1_800_000_000_000;
    const redis = countingRedis({ hot: 42 });
    const reader = createLiveViewReader({ redis: redis.client, clickhouse: pendingClickHouse().client, log, now: () => t, liveTtlMs: 250 });
    const answers = await Promise.all(Array.from({ length: 100 }, () => reader.readOne('hot')));
    expect(answers.every((a) => a.views === 42 && a.unique_viewers === 3 && a.source === 'redis')).toBe(true);
    expect(redis.reads()).toBe(1);
    t += 251;
    expect((await reader.readOne('hot')).views).toBe(42);
    expect(redis.reads()).toBe(2);
  });

  it('read every time with the cache off', async () => {
    const redis = countingRedis({ hot: 42 });
    const reader = createLiveViewReader({ redis: redis.client, clickhouse: pendingClickHouse().client, log, liveTtlMs: 0 });
    await Promise.all([reader.readOne('hot'), reader.readOne('hot'), reader.readOne('hot')]);
    expect(redis.reads()).toBe(3);
  });
});
