import type { Logger } from 'pino';
import type { JobConfig } from './config.ts';
import type { Committer } from './committer.ts';
import { PartitionTask } from './partition-task.ts';
import type { JobWatermark } from '../operators/watermark.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import { newestLink, reconcileLockKey, type RedisSink } from '../sinks/redis-sink.ts';
import type { Fingerprinter } from '../operators/fingerprint.ts';
import type { IpHasher } from './ip-privacy.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { ViewtallyError } from '../schemas/errors.ts';
import { FencedError } from '../sinks/sink-errors.ts';

/**
 * The partitions this worker owns and their tasks. Every assignment (each group join) drops the
 * old tasks and claims each assigned partition afresh under a new epoch: the previous owner is
 * fenced, its pending ClickHouse block is re-inserted, and the state comes from the checkpoint —
 * whatever happened in between. Claims are eager, so a partition with no new events still has its
 * restored windows fire.
 */
export class Assignment {
  readonly tasks = new Map<number, PartitionTask>();
  private readonly claims = new Map<number, Promise<PartitionTask | null>>();
  private generation = 0;
  assigned: number[] = [];
  /** Late events seen by tasks that are gone, for the run's summary. */
  droppedLateEvents = 0;

  constructor(
    private readonly deps: {
      config: JobConfig;
      addressPartitions: number;
      redis: RedisSink;
      committer: Committer;
      botRules: () => BotRules;
      /** The offset of the latest checkpoint copy ClickHouse holds for a partition, or null. */
      copyOffset: (partition: number) => Promise<number | null>;
      fingerprints: Fingerprinter;
      addressKeys: Fingerprinter;
      hasher: IpHasher;
      /** Where a partition without any checkpoint starts: the group's committed offset, else the log start. */
      startOffset: (partition: number) => Promise<number>;
      watermark: JobWatermark;
      log: Logger;
    },
  ) {}

  /** A new assignment from the group coordinator. */
  reassign(partitions: number[]): void {
    this.assigned = partitions;
    this.generation++;
    for (const p of [...this.tasks.keys()]) this.drop(p);
    this.claims.clear();
    this.deps.log.info({ partitions }, 'partitions assigned');
  }

  /** The task of a partition, claiming it first if needed; null if the partition is no longer ours. */
  async task(partition: number): Promise<PartitionTask | null> {
    const task = this.tasks.get(partition);
    if (task) return task;
    if (!this.assigned.includes(partition)) return null;
    let claim = this.claims.get(partition);
    if (!claim) {
      claim = this.claim(partition)
        .catch((err) => {
          // Another member claimed it after us (both were told it is theirs in a rebalance): not ours
          // now; the next claim, if the group still assigns it here, takes it back from its checkpoint.
          if (!(err instanceof FencedError)) throw err;
          this.deps.log.warn({ partition, err: err.message }, 'claim fenced by a newer owner');
          return null;
        })
        .finally(() => this.claims.delete(partition));
      this.claims.set(partition, claim);
    }
    return claim;
  }

  /** Claims every assigned partition that has no task yet. */
  async claimAll(): Promise<void> {
    await Promise.all(this.assigned.map((p) => this.task(p)));
  }

  /** Forgets a partition's task (lost, fenced, or reassigned). */
  drop(partition: number, only?: PartitionTask): void {
    const task = this.tasks.get(partition);
    if (!task || (only && task !== only)) return;
    this.droppedLateEvents += task.windows.lateEvents;
    this.tasks.delete(partition);
    this.deps.watermark.untrack(partition);
  }

  private async claim(partition: number): Promise<PartitionTask | null> {
    const { config, committer, redis, log } = this.deps;
    const generation = this.generation;
    const key = progressKey(config.group, config.topic, partition);
    const progress = await committer.claim(async () => {
      const claimed = await redis.claim(key, reconcileLockKey(config.group, config.topic));
      const copy = await this.deps.copyOffset(partition);
      const offset = claimed.checkpoint?.offset;
      if (copy !== null && (offset === undefined || offset < copy)) {
        // Redis lost progress ClickHouse already has: continuing would count it again, so wait for reconcile.
        throw new ViewtallyError(
          `partition ${partition}: Redis has ${offset === undefined ? 'no checkpoint' : `checkpoint ${offset}`} but ClickHouse has one at ${copy}; Redis was wiped or restored — run \`viewtally reconcile --fix\``,
          { retriable: true },
        );
      }
      return claimed;
    }, partition);
    const checkpoint = progress.checkpoint;
    if (checkpoint?.pending) {
      // The previous owner may have stopped before writing its last block and state link to ClickHouse.
      await committer.writeBlock(config.topic, partition, key, progress.epoch, { offset: checkpoint.offset, state: newestLink(checkpoint.chain), pending: checkpoint.pending }, { recovered: true });
    }
    if (generation !== this.generation) return null;
    const task = new PartitionTask({
      topic: config.topic,
      partition,
      progressKey: key,
      epoch: progress.epoch,
      config,
      addressPartitions: this.deps.addressPartitions,
      botRules: this.deps.botRules,
      fingerprints: this.deps.fingerprints,
      addressKeys: this.deps.addressKeys,
      hasher: this.deps.hasher,
      livePosition: progress.livePosition,
      verdictPosition: progress.verdictPosition,
      checkpointOffset: checkpoint?.offset ?? (await committer.claim(() => this.deps.startOffset(partition), partition)),
    });
    if (checkpoint) task.restore(checkpoint.chain);
    this.tasks.set(partition, task);
    this.deps.watermark.track(partition, task.watermark);
    log.info({ partition, epoch: progress.epoch, checkpoint: progress.checkpoint?.offset ?? null, livePosition: progress.livePosition }, 'partition claimed');
    return task;
  }
}
