import { Cluster, type Redis } from 'ioredis';
import { globEscape, masters, scanKeys, type RedisClient } from './redis-client.ts';

/**
 * The Redis key layouts of the live counters, and the one place that reads and rewrites them.
 *
 * - single (one Redis server): `vt:views:<video>` holds a video's total, every partition's flush
 *   adds to it.
 * - sharded (Redis Cluster): `vt:views:{<group>/<topic>/<partition>}:<video>` holds what one
 *   partition counted for a video. The hash tag is the partition's progress key's, so a flush's
 *   increments and its new position stay one atomic script in one slot; a video's total is the
 *   sum over the partitions, whose count the job records in `vt:shards:{<group>/<topic>}`.
 *
 * Unique viewers are `vt:uniq:<video>` (HyperLogLog) in both: adding a viewer twice changes
 * nothing, so the sink adds them before the script, outside it, in the video's own slot.
 */
export type CounterLayout = 'single' | 'sharded';

/** Whose counters: the job's consumer group and topic (the sharded layout keys its counters by them). */
export interface CounterScope {
  group: string;
  topic: string;
}

/** A video's live counts. */
export interface LiveCount {
  views: number;
  unique_viewers: number;
}

const VIEWS = 'vt:views:';
const CKPT = 'vt:ckpt:';

/** The layout a client's counters use: sharded on a Redis Cluster, single otherwise. */
export function counterLayout(redis: RedisClient): CounterLayout {
  return redis instanceof Cluster ? 'sharded' : 'single';
}

/** The hash tag all of one partition's keys share: progress, checkpoint log and, sharded, counters. */
export function partitionTag(group: string, topic: string, partition: number): string {
  return `{${group}/${topic}/${partition}}`;
}

/** Redis key holding a partition's progress: epoch, live position, checkpoint. */
export function progressKey(group: string, topic: string, partition: number): string {
  return `${CKPT}${partitionTag(group, topic, partition)}`;
}

/** What the commit script prepends to a video id for the counter a partition's flush increments. */
export function viewsKeyPrefix(layout: CounterLayout, progress: string): string {
  return layout === 'single' ? VIEWS : `${VIEWS}${progress.slice(CKPT.length)}:`;
}

/** The unique-viewer HyperLogLog of a video (both layouts). */
export function uniqKey(video: string): string {
  return `vt:uniq:${video}`;
}

function shardsKey(scope: CounterScope): string {
  return `vt:shards:{${scope.group}/${scope.topic}}`;
}

/** Records how many partitions a scope's counters are spread over (sharded layout; a no-op on a single server). */
export async function recordShards(redis: RedisClient, scope: CounterScope, partitions: number): Promise<void> {
  if (counterLayout(redis) === 'sharded') await redis.set(shardsKey(scope), String(partitions));
}

/** Options of {@link createLiveCounterReader}. */
export interface LiveCounterReaderOptions {
  /** How long the recorded partition count is reused (sharded layout); default 5 s. */
  shardsTtlMs?: number;
  now?: () => number;
}

/**
 * Reads live counts in either layout: a total (one GET, or one per partition summed) and the
 * unique-viewer estimate. Null for a video no partition has counted. Commands of concurrent
 * reads go out together when the client pipelines automatically. Redis errors are thrown.
 */
export function createLiveCounterReader(redis: RedisClient, scope?: CounterScope, options: LiveCounterReaderOptions = {}) {
  const layout = counterLayout(redis);
  if (layout === 'sharded' && scope === undefined) throw new Error('live counts on a Redis Cluster need the job’s group and topic');
  const now = options.now ?? Date.now;
  const ttl = options.shardsTtlMs ?? 5_000;
  let shards: { prefixes: string[]; expires: number } | null = null;
  let loading: Promise<string[]> | null = null;

  async function loadPrefixes(): Promise<string[]> {
    const n = Number((await redis.get(shardsKey(scope!))) ?? 0);
    const prefixes = Array.from({ length: n }, (_, p) => `${VIEWS}${partitionTag(scope!.group, scope!.topic, p)}:`);
    shards = { prefixes, expires: now() + ttl };
    return prefixes;
  }

  function prefixes(): string[] | Promise<string[]> {
    if (shards !== null && shards.expires > now()) return shards.prefixes;
    loading ??= loadPrefixes().finally(() => (loading = null));
    return loading;
  }

  /** One video's counts, or null when it has none. */
  async function one(video: string): Promise<LiveCount | null> {
    if (layout === 'single') {
      const [views, uniq] = await Promise.all([redis.get(`${VIEWS}${video}`), redis.pfcount(uniqKey(video))]);
      return views === null ? null : { views: Number(views), unique_viewers: uniq };
    }
    const ps = await prefixes();
    const [uniq, ...parts] = await Promise.all([redis.pfcount(uniqKey(video)), ...ps.map((p) => redis.get(`${p}${video}`))]);
    let views = 0;
    let seen = false;
    for (const v of parts) {
      if (v === null) continue;
      views += Number(v);
      seen = true;
    }
    return seen ? { views, unique_viewers: uniq as number } : null;
  }

  /** Counts of several videos, in the order asked. */
  async function many(videos: readonly string[], chunk = 500): Promise<(LiveCount | null)[]> {
    const out: (LiveCount | null)[] = [];
    for (let i = 0; i < videos.length; i += chunk) out.push(...(await Promise.all(videos.slice(i, i + chunk).map(one))));
    return out;
  }

  return { layout, one, many };
}

/** A reader of live counts, from {@link createLiveCounterReader}. */
export type LiveCounterReader = ReturnType<typeof createLiveCounterReader>;

/** Live view totals of videos, in the order asked (0 for none): what tests and tools compare. */
export async function liveViews(redis: RedisClient, scope: CounterScope, videos: readonly string[]): Promise<number[]> {
  return (await createLiveCounterReader(redis, scope).many(videos)).map((c) => c?.views ?? 0);
}

/** The counter keys of a scope and the video each counts for, on one server. */
async function scanCounters(node: Redis, layout: CounterLayout, scope: CounterScope, onKeys: (keys: string[], videos: string[]) => Promise<void>): Promise<void> {
  const shardPrefix = `${VIEWS}{${scope.group}/${scope.topic}/`;
  const match = layout === 'single' ? `${VIEWS}*` : `${globEscape(shardPrefix)}*`;
  await scanKeys(node, match, async (keys) => {
    const videos: string[] = [];
    const ours: string[] = [];
    for (const k of keys) {
      if (layout === 'single') {
        ours.push(k);
        videos.push(k.slice(VIEWS.length));
        continue;
      }
      const m = /^(\d+)\}:/.exec(k.slice(shardPrefix.length));
      if (m === null) continue;
      ours.push(k);
      videos.push(k.slice(shardPrefix.length + m[0].length));
    }
    if (ours.length > 0) await onKeys(ours, videos);
  });
}

/** Every live view total of a scope (all videos of a single server), summed over partitions (reconcile). */
export async function scanLiveViews(redis: RedisClient, scope: CounterScope): Promise<Map<string, number>> {
  const layout = counterLayout(redis);
  const counts = new Map<string, number>();
  for (const node of masters(redis)) {
    await scanCounters(node, layout, scope, async (keys, videos) => {
      // one GET per key on the node itself: the keys of one scan may lie in many slots
      const values = await node.pipeline(keys.map((k) => ['get', k])).exec();
      videos.forEach((v, i) => counts.set(v, (counts.get(v) ?? 0) + Number(values?.[i]?.[1] ?? 0)));
    });
  }
  return counts;
}

/** A video's shard when a whole total is written at once: any partition's counter sums the same, this spreads them. */
function shardOf(video: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < video.length; i++) h = Math.imul(h ^ video.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

/**
 * Replaces a scope's live view totals with `totals` (reconcile --fix, while every owner is fenced):
 * on a single server each video's key is set, and counters of videos not in `totals` deleted; sharded,
 * the scope's counters are deleted, each total is written into one of its partitions' counters, and
 * the partition count is recorded again.
 */
export async function replaceLiveViews(redis: RedisClient, scope: CounterScope, partitions: number, totals: Map<string, number>): Promise<void> {
  const layout = counterLayout(redis);
  await recordShards(redis, scope, partitions); // a wiped cluster lost it, and readers need it
  for (const node of masters(redis)) {
    await scanCounters(node, layout, scope, async (keys, videos) => {
      const stale = layout === 'single' ? keys.filter((_, i) => !totals.has(videos[i])) : keys;
      if (stale.length > 0) await node.pipeline(stale.map((k) => ['del', k])).exec();
    });
  }
  const entries = [...totals];
  for (let i = 0; i < entries.length; i += 1000) {
    await Promise.all(
      entries.slice(i, i + 1000).map(([video, n]) => {
        const key = layout === 'single' ? `${VIEWS}${video}` : `${VIEWS}${partitionTag(scope.group, scope.topic, shardOf(video, partitions))}:${video}`;
        return redis.set(key, String(n));
      }),
    );
  }
}
