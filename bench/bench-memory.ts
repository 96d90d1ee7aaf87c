import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Redis } from 'ioredis';
import { BoundedTtlMap } from '../operators/bounded-ttl-map.ts';
import { progressKey, RedisSink } from '../sinks/redis-sink.ts';
import { PartitionTask } from '../pipeline/partition-task.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import type { JobConfig } from '../pipeline/config.ts';

/** The job's dedup state at the end of the run, read from its checkpoints, and what it costs. */
export interface DedupState {
  /** event_id entries (24 h horizon) and session entries ((viewer key, video), 30 min), all partitions. */
  eventIdEntries: number;
  sessionEntries: number;
  entries: number;
  /** IPs and viewer keys the bot scorer tracks. */
  botKeys: number;
  /** Heap per dedup entry, measured by rebuilding the maps from the checkpoint (after a full GC). */
  heapBytesPerEntry: number;
  /** Checkpointed (gzipped JSON) state per entry: the whole stored chain, all state included. */
  checkpointBytesPerEntry: number;
  checkpointBytes: number;
  /** The configured cap: entries per store per partition, and what a full set of caps would hold in heap. */
  maxEntriesPerStore: number;
  boundBytes: number;
}

/**
 * Reads every partition's checkpoint of a finished job (Redis `vt:ckpt:{group/topic/p}`), counts
 * the dedup entries, and measures their heap cost by restoring them into fresh maps between two
 * full garbage collections in this process.
 */
export async function measureDedupState(redis: Redis, group: string, topic: string, partitions: number, config: JobConfig): Promise<DedupState> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let eventIdEntries = 0;
  let sessionEntries = 0;
  let botKeys = 0;
  let checkpointBytes = 0;
  let heapBytes = 0;
  const rules = loadBotRules(config.botRulesPath);
  for (let p = 0; p < partitions; p++) {
    const key = progressKey(group, topic, p);
    const { checkpoint } = await new RedisSink(redis).inspect(key);
    if (checkpoint === null) continue;
    checkpointBytes += checkpoint.chain.reduce((n, b) => n + b.length, 0);
    const task = new PartitionTask({ topic, partition: p, progressKey: key, epoch: 0, config, partitionCount: partitions, botRules: () => rules, livePosition: -1, checkpointOffset: checkpoint.offset });
    task.restore(checkpoint.chain);
    const snapshot = task.snapshot();
    eventIdEntries += snapshot.eventIds.keys.length;
    sessionEntries += snapshot.sessions.keys.length;
    botKeys += task.bots.size();
    // Fresh copies of the keys, made between the two measures: the maps' cost includes their strings, as in the job.
    gc();
    const before = process.memoryUsage().heapUsed;
    const maps = [snapshot.eventIds, snapshot.sessions].map((s) => {
      const m = new BoundedTtlMap({ ttlMs: Number.MAX_SAFE_INTEGER, maxEntries: Number.MAX_SAFE_INTEGER });
      for (let i = 0; i < s.keys.length; i++) m.set(Buffer.from(s.keys[i]).toString(), s.times[i]);
      return m;
    });
    gc();
    heapBytes += process.memoryUsage().heapUsed - before;
    maps.length = 0;
  }
  const entries = eventIdEntries + sessionEntries;
  const heapBytesPerEntry = entries > 0 ? Math.round(heapBytes / entries) : 0;
  return {
    eventIdEntries,
    sessionEntries,
    entries,
    botKeys,
    heapBytesPerEntry,
    checkpointBytesPerEntry: entries > 0 ? Math.round((checkpointBytes / entries) * 10) / 10 : 0,
    checkpointBytes,
    maxEntriesPerStore: config.view.maxDedupKeys,
    boundBytes: 2 * config.view.maxDedupKeys * partitions * heapBytesPerEntry,
  };
}
