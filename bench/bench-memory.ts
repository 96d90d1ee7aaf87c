import type { RedisClient } from '../sinks/redis-client.ts';
import { RedisSink } from '../sinks/redis-sink.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { PartitionTask } from '../pipeline/partition-task.ts';
import { IpHasher, ipHashSecret } from '../pipeline/ip-privacy.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import { entriesForBudget } from '../operators/dedup-store.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import type { JobConfig } from '../pipeline/config.ts';

/** The job's dedup state at the end of the run, read from its checkpoints, and what it costs. */
export interface DedupState {
  /** event_id entries (24 h horizon) and session entries ((viewer key, video), 30 min), all partitions. */
  eventIdEntries: number;
  sessionEntries: number;
  entries: number;
  /** IPs and viewer keys the bot scorer tracks. */
  botKeys: number;
  /** Bytes of the dedup tables per entry, as allocated after restoring the checkpoints (typed arrays: this is their memory). */
  heapBytesPerEntry: number;
  /** Milliseconds to restore the largest partition's chain (snapshot + changes) into fresh tables. */
  restoreMs: number;
  /** Stored (binary) state per entry: the whole stored chain, all state included. */
  checkpointBytesPerEntry: number;
  checkpointBytes: number;
  /** The configured budget: entries per store per partition, and the bytes a full set of stores holds. */
  maxEntriesPerStore: number;
  boundBytes: number;
}

/** A partition's state of `keys` dedup keys (half event ids, half sessions): stored, then restored into fresh tables. */
export interface RestoreMeasure {
  keys: number;
  snapshotBytes: number;
  /** Writing the snapshot link (the job's event loop at a snapshot checkpoint). */
  writeMs: number;
  /** Reading it back into fresh tables (a takeover's restore). */
  restoreMs: number;
  /** Bytes of the dedup tables per key, as allocated. */
  tableBytesPerKey: number;
}

/** Measures the snapshot and restore of one partition holding `keys` dedup keys. */
export function measureRestore(config: JobConfig, keys: number): RestoreMeasure {
  const rules = loadBotRules(config.botRulesPath);
  const task = (checkpointOffset: number) =>
    new PartitionTask({
      topic: 't',
      partition: 0,
      progressKey: 'k',
      epoch: 1,
      config,
      addressPartitions: 1,
      botRules: () => rules,
      fingerprints: new Fingerprinter(config.stateSeed),
      addressKeys: new Fingerprinter(config.stateSeed),
      hasher: new IpHasher(ipHashSecret()),
      livePosition: -1,
      checkpointOffset,
    });
  const full = task(0);
  const fp = full.fingerprints;
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < keys / 2; i++) {
    fp.string(`${(0x10000000 + i).toString(16)}-1b2c-4d5e-8f90-${(0x100000000000 + i).toString(16)}`);
    full.eventIds.set(fp.hi, fp.lo, t0 + i);
    fp.string(`v:viewer-${i}|video-${i % 100_000}`);
    full.sessions.set(fp.hi, fp.lo, t0 + i);
  }
  full.nextOffset = keys;
  let started = performance.now();
  const snapshot = full.encodeState().bytes;
  const writeMs = performance.now() - started;
  const restored = task(0);
  started = performance.now();
  restored.restore([snapshot]);
  const restoreMs = performance.now() - started;
  if (restored.eventIds.size + restored.sessions.size !== keys) throw new Error(`restore: ${restored.eventIds.size + restored.sessions.size} of ${keys} keys`);
  return {
    keys,
    snapshotBytes: snapshot.length,
    writeMs: Math.round(writeMs),
    restoreMs: Math.round(restoreMs),
    tableBytesPerKey: Math.round(((restored.eventIds.memoryBytes() + restored.sessions.memoryBytes()) / keys) * 10) / 10,
  };
}

/**
 * Reads every partition's checkpoint of a finished job (Redis `vt:ckpt:{group/topic/p}`), restores
 * it into fresh tables, and reports the entries, what the tables take and how long a restore took.
 */
export async function measureDedupState(redis: RedisClient, group: string, topic: string, partitions: number, config: JobConfig): Promise<DedupState> {
  let eventIdEntries = 0;
  let sessionEntries = 0;
  let botKeys = 0;
  let checkpointBytes = 0;
  let tableBytes = 0;
  let restoreMs = 0;
  const rules = loadBotRules(config.botRulesPath);
  for (let p = 0; p < partitions; p++) {
    const key = progressKey(group, topic, p);
    const { checkpoint } = await new RedisSink(redis).inspect(key);
    if (checkpoint === null) continue;
    checkpointBytes += checkpoint.chain.reduce((n, b) => n + b.length, 0);
    const task = new PartitionTask({
      topic,
      partition: p,
      progressKey: key,
      epoch: 0,
      config,
      addressPartitions: partitions,
      botRules: () => rules,
      fingerprints: new Fingerprinter(config.stateSeed),
      addressKeys: new Fingerprinter(config.stateSeed),
      hasher: new IpHasher(ipHashSecret()),
      livePosition: -1,
      checkpointOffset: checkpoint.offset,
    });
    const started = performance.now();
    task.restore(checkpoint.chain);
    restoreMs = Math.max(restoreMs, performance.now() - started);
    eventIdEntries += task.eventIds.size;
    sessionEntries += task.sessions.size;
    tableBytes += task.eventIds.memoryBytes() + task.sessions.memoryBytes();
    botKeys += task.bots.size();
  }
  const entries = eventIdEntries + sessionEntries;
  const maxEntriesPerStore = entriesForBudget(config.view.dedupMemoryBytes);
  return {
    eventIdEntries,
    sessionEntries,
    entries,
    botKeys,
    heapBytesPerEntry: entries > 0 ? Math.round(tableBytes / entries) : 0,
    restoreMs: Math.round(restoreMs),
    checkpointBytesPerEntry: entries > 0 ? Math.round((checkpointBytes / entries) * 10) / 10 : 0,
    checkpointBytes,
    maxEntriesPerStore,
    boundBytes: 2 * config.view.dedupMemoryBytes * partitions,
  };
}
