import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { totals, videoSeen } from '../clickhouse/dashboard-queries.ts';
import { MAX_RANGE_DAYS } from '../clickhouse/query-params.ts';
import { ViewtallyError } from '../schemas/errors.ts';

/** The contract's answer for one video's live count. */
export interface LiveViews {
  video_id: string;
  views: number;
  /** An estimate (HyperLogLog), never above `views`. */
  unique_viewers: number;
  /** Whether any event of the video has reached the job (counted or not): false for an id nobody sent, e.g. a typo. */
  known: boolean;
  as_of: string;
  source: 'redis' | 'clickhouse';
}

export interface LiveViewReaderDeps {
  redis: Redis;
  clickhouse: ClickHouseClient;
  log: Logger;
  /** How long a ClickHouse answer is reused for the same video (and shared while in flight); default 1 s. */
  fallbackTtlMs?: number;
  /** Most videos whose ClickHouse answer is kept; default 10 000. */
  fallbackEntries?: number;
  /** Most ClickHouse fallback queries in flight; past it a request gets 503 instead of queueing. Default 64 (a full batch fits). */
  maxFallbacksInFlight?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;
// Counted events may lie a little in the future (clock skew the job accepts), so the range ends past now.
const FUTURE_MARGIN_MS = 15 * 60_000;

type Count = { views: number; unique_viewers: number; known: boolean };

/** The estimate can exceed the exact count on small sets (672 views, 673 unique); a reader never should see that. */
function answer(video_id: string, c: Count, source: LiveViews['source'], now: number): LiveViews {
  return { video_id, views: c.views, unique_viewers: Math.min(c.unique_viewers, c.views), known: c.known, as_of: new Date(now).toISOString(), source };
}

/** Too many ClickHouse fallbacks in flight: the request is answered 503 and may be retried. */
export class FallbackBusyError extends ViewtallyError {
  readonly statusCode = 503;
  constructor() {
    super('live counts: too many ClickHouse fallback queries in flight; retry shortly', { retriable: true });
  }
}

/**
 * Live counts: `GET vt:views:{id}` and `PFCOUNT vt:uniq:{id}` in one pipeline; when Redis is
 * not connected, fails or has no counter for the video (cold), all-time totals from the
 * ClickHouse rollups instead (views_day holds 3 years; the hour and minute rows that are
 * already in it are not counted twice, see planTiers). A ClickHouse answer is cached briefly
 * per video, so a Redis outage under load costs one query per video and second.
 */
export function createLiveViewReader(deps: LiveViewReaderDeps) {
  const { redis, clickhouse, log } = deps;
  const ttl = deps.fallbackTtlMs ?? 1_000;
  const maxEntries = deps.fallbackEntries ?? 10_000;
  const now = deps.now ?? Date.now;
  const maxInFlight = deps.maxFallbacksInFlight ?? 64;
  const cache = new Map<string, { expires: number; count: Promise<Count> }>();
  let inFlight = 0;
  let lastRedisWarning = 0;

  function fromClickHouse(videoId: string): Promise<Count> {
    const t = now();
    const hit = cache.get(videoId);
    if (hit !== undefined && hit.expires > t) return hit.count;
    if (hit !== undefined) cache.delete(videoId);
    // Ids nobody has counted miss Redis every time; a flood of them must not become a flood of queries.
    if (inFlight >= maxInFlight) return Promise.reject(new FallbackBusyError());
    inFlight++;
    // Rollup rows mean the video is known; only a video without any asks the outcome table.
    const count = totals(clickhouse, { videoId, from: t - (MAX_RANGE_DAYS - 1) * DAY_MS, to: t + FUTURE_MARGIN_MS }).then(async (r) => ({
      views: r.views,
      unique_viewers: r.unique_viewers,
      known: r.views > 0 || (await videoSeen(clickhouse, videoId)),
    }));
    count.then(() => inFlight--, () => {
      inFlight--;
      cache.delete(videoId);
    });
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(videoId, { expires: t + ttl, count });
    return count;
  }

  function redisFailed(err: unknown) {
    // One line per 10 s: an outage must not turn into a log line per request.
    if (now() - lastRedisWarning < 10_000) return;
    lastRedisWarning = now();
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis read failed; answering from ClickHouse');
  }

  /** Counts of each video from Redis; null where Redis could not answer or has no counter. */
  async function fromRedis(ids: readonly string[]): Promise<(Count | null)[]> {
    if (redis.status !== 'ready') return ids.map(() => null);
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.get(`vt:views:${id}`).pfcount(`vt:uniq:${id}`);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      redisFailed(err);
      return ids.map(() => null);
    }
    return ids.map((_, i) => {
      const [viewsErr, views] = results![2 * i];
      const [uniqErr, uniq] = results![2 * i + 1];
      if (viewsErr || uniqErr) {
        redisFailed(viewsErr ?? uniqErr);
        return null;
      }
      if (views === null) return null;
      return { views: Number(views), unique_viewers: Number(uniq), known: true };
    });
  }

  /** The live count of one video: the hot path, so no pipeline object and no array per request. */
  async function readOne(video_id: string): Promise<LiveViews> {
    if (redis.status === 'ready') {
      try {
        // Auto-pipelining (see read-redis.ts) writes both commands, and those of concurrent requests, in one go.
        const [views, uniq] = await Promise.all([redis.get(`vt:views:${video_id}`), redis.pfcount(`vt:uniq:${video_id}`)]);
        if (views !== null) return answer(video_id, { views: Number(views), unique_viewers: uniq, known: true }, 'redis', now());
      } catch (err) {
        redisFailed(err);
      }
    }
    return answer(video_id, await fromClickHouse(video_id), 'clickhouse', now());
  }

  /** The live counts of several videos, in the order asked. */
  async function read(ids: readonly string[]): Promise<LiveViews[]> {
    const counts = await fromRedis(ids);
    return Promise.all(
      ids.map(async (video_id, i) => {
        const c = counts[i];
        return c !== null ? answer(video_id, c, 'redis', now()) : answer(video_id, await fromClickHouse(video_id), 'clickhouse', now());
      }),
    );
  }

  return { read, readOne };
}

export type LiveViewReader = ReturnType<typeof createLiveViewReader>;
