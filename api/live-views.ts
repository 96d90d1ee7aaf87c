import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { totals, videoSeen } from '../clickhouse/dashboard-queries.ts';
import { MAX_RANGE_DAYS } from '../clickhouse/query-params.ts';
import { ViewtallyError } from '../schemas/errors.ts';
import type { RedisClient } from '../sinks/redis-client.ts';
import { createLiveCounterReader, type CounterScope, type LiveCount } from '../sinks/live-counters.ts';
import { sharedAnswers } from './shared-answers.ts';

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
  redis: RedisClient;
  /** The job whose counters are read: needed on a Redis Cluster, where they are kept per partition. */
  scope?: CounterScope;
  clickhouse: ClickHouseClient;
  log: Logger;
  /**
   * How long a video's Redis answer is reused (and shared while in flight), so a viral video costs
   * one read (on a cluster, one per partition) per period however many ask; default 250 ms, 0 = never.
   */
  liveTtlMs?: number;
  /** How long a ClickHouse answer is reused for the same video (and shared while in flight); default 1 s. */
  fallbackTtlMs?: number;
  /** Most videos whose answer is kept, per source; default 10 000. */
  fallbackEntries?: number;
  /** Most ClickHouse fallback queries in flight; past it a request gets 503 instead of queueing. Default 64 (a full batch fits). */
  maxFallbacksInFlight?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;
// Counted events may lie a little in the future (clock skew the job accepts), so the range ends past now.
const FUTURE_MARGIN_MS = 15 * 60_000;

/** A count and whether the video is known: Redis has a counter only for counted videos; ClickHouse also knows the rest. */
type Count = LiveCount & { known: boolean };

/** Too many ClickHouse fallbacks in flight: the request is answered 503 and may be retried. */
export class FallbackBusyError extends ViewtallyError {
  readonly statusCode = 503;
  constructor() {
    super('live counts: too many ClickHouse fallback queries in flight; retry shortly', { retriable: true });
  }
}

/**
 * Live counts from the Redis counters (either layout, through sinks/live-counters.ts); when Redis
 * is not connected, fails or has no counter for the video (cold), all-time totals from the
 * ClickHouse rollups instead (views_day holds 3 years; the hour and minute rows that are already
 * in it are not counted twice, see planTiers). Both answers are shared briefly per video, so a
 * hot video or a Redis outage under load costs one lookup per video and period.
 */
export function createLiveViewReader(deps: LiveViewReaderDeps) {
  const { redis, clickhouse, log } = deps;
  const now = deps.now ?? Date.now;
  const maxEntries = deps.fallbackEntries ?? 10_000;
  const maxInFlight = deps.maxFallbacksInFlight ?? 64;
  const counters = createLiveCounterReader(redis, deps.scope);
  const liveTtl = deps.liveTtlMs ?? 250;
  const live = sharedAnswers<LiveCount | null>({ ttlMs: liveTtl, maxEntries, now });
  const fallback = sharedAnswers<Count>({ ttlMs: deps.fallbackTtlMs ?? 1_000, maxEntries, now });
  let inFlight = 0;
  let lastRedisWarning = 0;

  function fromClickHouse(videoId: string): Promise<Count> {
    return fallback.get(videoId, () => {
      // Ids nobody has counted miss Redis every time; a flood of them must not become a flood of queries.
      if (inFlight >= maxInFlight) return Promise.reject(new FallbackBusyError());
      inFlight++;
      const t = now();
      // Rollup rows mean the video is known; only a video without any asks the outcome table.
      return totals(clickhouse, { videoId, from: t - (MAX_RANGE_DAYS - 1) * DAY_MS, to: t + FUTURE_MARGIN_MS })
        .then(async (r) => ({ views: r.views, unique_viewers: r.unique_viewers, known: r.views > 0 || (await videoSeen(clickhouse, videoId)) }))
        .finally(() => inFlight--);
    });
  }

  function redisFailed(err: unknown) {
    // One line per 10 s: an outage must not turn into a log line per request.
    if (now() - lastRedisWarning < 10_000) return;
    lastRedisWarning = now();
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis read failed; answering from ClickHouse');
  }

  /** The Redis answer for a video; null when Redis has none or cannot answer. */
  async function fromRedis(video_id: string): Promise<LiveCount | null> {
    try {
      return await (liveTtl > 0 ? live.get(video_id, () => counters.one(video_id)) : counters.one(video_id));
    } catch (err) {
      redisFailed(err);
      return null;
    }
  }

  /** The estimate can exceed the exact count on small sets (672 views, 673 unique); a reader never should see that. */
  function answer(video_id: string, c: Count, source: LiveViews['source']): LiveViews {
    return { video_id, views: c.views, unique_viewers: Math.min(c.unique_viewers, c.views), known: c.known, as_of: new Date(now()).toISOString(), source };
  }

  function answerFromClickHouse(video_id: string): Promise<LiveViews> {
    return fromClickHouse(video_id).then((c) => answer(video_id, c, 'clickhouse'));
  }

  /** The live count of one video (while Redis is not connected, the ClickHouse query starts at once). */
  function readOne(video_id: string): Promise<LiveViews> {
    if (redis.status !== 'ready') return answerFromClickHouse(video_id);
    return fromRedis(video_id).then((c) => (c === null ? answerFromClickHouse(video_id) : answer(video_id, { ...c, known: true }, 'redis')));
  }

  /** The live counts of several videos, in the order asked. */
  function read(ids: readonly string[]): Promise<LiveViews[]> {
    return Promise.all(ids.map(readOne));
  }

  return { read, readOne };
}

export type LiveViewReader = ReturnType<typeof createLiveViewReader>;
