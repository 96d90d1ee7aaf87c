import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { JobConfig } from './config.ts';
import { openWindowViews } from './partition-state.ts';
import { ipHashSecret, IpHasher } from './ip-privacy.ts';
import { RedisSink, newestLink, reconcileLockKey, type PartitionClaim } from '../sinks/redis-sink.ts';
import { progressKey, replaceLiveViews, scanLiveViews } from '../sinks/live-counters.ts';
import type { RedisClient } from '../sinks/redis-client.ts';
import { ClickHouseSink } from '../sinks/clickhouse-sink.ts';
import { checkpointCopy, latestCheckpointCopy } from '../sinks/checkpoint-copies.ts';
import { unlandedPart } from '../sinks/landed-blocks.ts';
import { insertRouting, readClusterLayout } from '../clickhouse/schema-layout.ts';

/** One video whose live count does not match ClickHouse plus the checkpointed open windows (and provisional views). */
export interface CountDifference {
  video_id: string;
  redis: number;
  /** ClickHouse totals plus the counted views in checkpointed, not yet fired windows. */
  expected: number;
}

/** What reconcile found and did. */
export interface ReconcileReport {
  videos: number;
  /** Live counts below what ClickHouse already has: lost increments (a wiped or restored Redis). */
  missing: CountDifference[];
  /** Live counts above: views still in flight (counted live, their windows not yet in ClickHouse), or doubled. */
  ahead: CountDifference[];
  fixed: boolean;
  partitions: { partition: number; checkpoint: number | null; source: 'redis' | 'clickhouse' | 'none' }[];
}

/** Counted views of every video across ClickHouse (all time, from views_day) and the checkpoints' open windows. */
async function expectedCounts(clickhouse: ClickHouseClient, openWindows: Map<string, number>[]): Promise<Map<string, number>> {
  const rows = await (
    await clickhouse.query({ query: 'SELECT video_id, sum(views) AS views FROM views_day GROUP BY video_id', format: 'JSONEachRow' })
  ).json<{ video_id: string; views: string }>();
  const expected = new Map(rows.map((r) => [r.video_id, Number(r.views)]));
  for (const views of openWindows) for (const [video, n] of views) expected.set(video, (expected.get(video) ?? 0) + n);
  return expected;
}

/**
 * Compares Redis live counts with ClickHouse per video. With `fix`, restores Redis without double
 * counting what is in flight: claims are held back, every partition is put back on its latest
 * checkpoint (from Redis, or from ClickHouse's copy when Redis lost it), each count is set to
 * ClickHouse's total plus the checkpoint's open windows, and the live position goes back to the
 * checkpoint — so the owners, fenced, claim again and replay the rest exactly once.
 */
export async function reconcile(
  deps: { config: JobConfig; redis: RedisClient; clickhouse: ClickHouseClient; partitions: number[]; log: Logger },
  options: { fix: boolean },
): Promise<ReconcileReport> {
  const { config, redis, clickhouse, log } = deps;
  const sink = new RedisSink(redis);
  const hasher = new IpHasher(ipHashSecret());
  const lock = reconcileLockKey(config.group, config.topic);
  if (options.fix) {
    if ((await redis.set(lock, String(process.pid), 'PX', 120_000, 'NX')) === null) throw new Error(`another reconcile --fix holds ${lock}`);
  }
  try {
    const cluster = options.fix ? await readClusterLayout(clickhouse) : null;
    const sinkToClickHouse = new ClickHouseSink(clickhouse, insertRouting(cluster));
    const openWindows: Map<string, number>[] = [];
    const partitions: ReconcileReport['partitions'] = [];
    for (const partition of deps.partitions) {
      const key = progressKey(config.group, config.topic, partition);
      // Fenced before it is read: an owner still running must not store a newer checkpoint that the reset below would undo.
      if (options.fix) await sink.fence(key);
      const progress: PartitionClaim = await sink.inspect(key);
      const copy = await latestCheckpointCopy(clickhouse, config.group, config.topic, partition);
      const useCopy = copy !== null && (progress.checkpoint === null || progress.checkpoint.offset < copy.offset);
      const checkpoint = useCopy ? { offset: copy.offset, chain: copy.chain, pending: copy.block } : progress.checkpoint;
      partitions.push({ partition, checkpoint: checkpoint?.offset ?? null, source: checkpoint === null ? 'none' : useCopy ? 'clickhouse' : 'redis' });
      if (checkpoint === null) {
        // Nothing of it is in ClickHouse, and its counters are about to be rewritten: its owner,
        // fenced, replays it from the start (a live position left standing would skip that).
        if (options.fix) await sink.forget(key);
        continue;
      }
      if (options.fix) {
        if (checkpoint.pending) {
          // Only the parts whose insert left no landed marker: the token alone may be forgotten by now.
          const write = { offset: checkpoint.offset, state: newestLink(checkpoint.chain), pending: checkpoint.pending };
          await sinkToClickHouse.write(await unlandedPart(clickhouse, checkpoint.pending), checkpointCopy(config.group, config.topic, partition, write));
        }
      }
      const open = openWindowViews(checkpoint.chain, hasher);
      if (options.fix) await sink.reset(key, checkpoint, open.ledger);
      openWindows.push(open.views);
    }
    const expected = await expectedCounts(clickhouse, openWindows);
    const live = await scanLiveViews(redis, config);
    const missing: CountDifference[] = [];
    const ahead: CountDifference[] = [];
    for (const id of new Set([...expected.keys(), ...live.keys()])) {
      const d = { video_id: id, redis: live.get(id) ?? 0, expected: expected.get(id) ?? 0 };
      if (d.redis < d.expected) missing.push(d);
      else if (d.redis > d.expected) ahead.push(d);
    }
    if (options.fix) {
      await replaceLiveViews(redis, config, deps.partitions.length, expected);
      log.info({ videos: expected.size, missing: missing.length, ahead: ahead.length }, 'live counts restored; owners replay from their checkpoints');
    }
    return { videos: expected.size, missing, ahead, fixed: options.fix, partitions };
  } finally {
    if (options.fix) await redis.del(lock);
  }
}
