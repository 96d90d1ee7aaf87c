import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import { FencedError } from '../sinks/sink-errors.ts';
import { isRetriable, retryLogLevel, retrying } from './retry.ts';
import type { PartitionTask } from './partition-task.ts';
import type { RedisSink } from '../sinks/redis-sink.ts';
import type { ClickHouseSink } from '../sinks/clickhouse-sink.ts';
import { isEmptyBlock, type ClickHouseBlock } from '../sinks/clickhouse-block.ts';
import { checkpointCopy } from '../sinks/checkpoint-copies.ts';
import type { CheckpointWrite } from '../sinks/redis-sink.ts';
import type { DeadLetter, DeadLetterSink } from '../sinks/dead-letter-sink.ts';
import type { AddressRecordSink } from '../sinks/address-record-sink.ts';
import { crashPoint } from './crash-points.ts';
import type { JobMetrics } from './metrics.ts';
import { OUTCOMES } from '../schemas/view-event.ts';

/** A live payload without increments: the state write of a checkpoint carries none. */
const NO_INCREMENTS = Buffer.alloc(0);

/** Counters an operator reads to see what the committer has done. */
export interface CommitStats {
  liveFlushes: number;
  checkpoints: number;
  sinkRetries: number;
  windowsFired: number;
  /** Events by outcome (OUTCOMES index) whose checkpoint is stored: each event once, replays and lost partitions notwithstanding. */
  outcomes: Float64Array;
}

/**
 * Moves a partition's outputs to the sinks in the order that makes them exactly-once:
 * live increments with their position (one Redis script), then at checkpoints the state and the
 * ClickHouse block together in Redis, the block into ClickHouse under its token, and only then
 * the Kafka offset. Sink failures are retried with backoff; the prepared commit is kept, so
 * nothing is lost or doubled, while consumption waits on the pending-events bound.
 */
export class Committer {
  readonly stats: CommitStats = { liveFlushes: 0, checkpoints: 0, sinkRetries: 0, windowsFired: 0, outcomes: new Float64Array(OUTCOMES.length) };
  /** When each partition last completed a checkpoint (wall clock), for the checkpoint-age metric. */
  readonly lastCheckpointAt = new Map<number, number>();
  /** Snapshots being written to the sinks: while one is, another partition's due snapshot waits (StateChain). */
  private snapshotsWriting = 0;
  private readonly deps: {
    redis: RedisSink;
    clickhouse: ClickHouseSink;
    /** The part of a recovered block ClickHouse does not hold yet (sinks/landed-blocks.ts). */
    unlanded: (block: ClickHouseBlock) => Promise<ClickHouseBlock>;
    deadLetters: DeadLetterSink;
    addressRecords: AddressRecordSink;
    consumer: Consumer;
    group: string;
    log: Logger;
    metrics: JobMetrics;
    signal?: AbortSignal;
  };

  constructor(deps: Committer['deps']) {
    this.deps = deps;
  }

  /**
   * Flushes the live counters of a task up to its current position and, beside them, its records
   * for the address stage (`idle`: its marker says so); only a checkpoint must wait for those.
   */
  async flushLive(task: PartitionTask, idle = false): Promise<void> {
    await Promise.all([this.sendAddressRecords(task, idle), this.commitLive(task)]);
  }

  private async commitLive(task: PartitionTask): Promise<void> {
    if (!task.liveFlushDue) return;
    const to = task.nextOffset;
    const started = performance.now();
    const live = task.takeLive();
    const provisional = task.takeProvisional();
    crashPoint('before-live-flush');
    crashPoint('during-redis-commit', { deferred: true });
    const done = await this.retry('redis live flush', task.partition, () => this.deps.redis.commit(task.progressKey, task.epoch, to, live, undefined, provisional));
    this.deps.metrics.botCorrections.inc(done.takenBack);
    task.liveFlushed(to);
    this.stats.liveFlushes++;
    this.deps.metrics.flushSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Fires due windows and checkpoints a task: its live increments up to the checkpoint's offset go
   * out as a live flush beside its records for the address stage, then, in the background, the
   * state and the ClickHouse block in Redis, the block into ClickHouse under its token, and the
   * Kafka offset. The state write carries no increments, so the partition's next live flushes need
   * not wait for it (a large state can take Redis a while): one that lands first moves the position
   * past the checkpoint's, which then skips nothing. Redis holds one pending block per partition, so
   * while the previous checkpoint's writes run a due checkpoint is only a live flush (ClickHouse
   * sets the checkpoint pace, live counts keep theirs). With `settle`, it waits for the previous
   * writes, and for its own.
   */
  async checkpoint(task: PartitionTask, watermark: number, options: { settle?: boolean; idle?: boolean } = {}): Promise<void> {
    if (task.writingBlockNow && !options.settle) return this.flushLive(task, options.idle);
    await task.blockWritten(); // throws why the last write failed (e.g. fenced): the task is dropped
    const to = task.nextOffset;
    if (to < 0) return;
    const started = performance.now();
    const { block, windowsFired } = task.takeBlock(watermark, this.deps.group);
    if (to === task.checkpointOffsetNow && isEmptyBlock(block) && !task.hasPendingOutput) return;
    this.stats.windowsFired += windowsFired;
    this.deps.metrics.windowsFired.inc(windowsFired);
    // Everything up to `to` is taken before the first wait: events go on arriving meanwhile.
    const letters = task.takeDeadLetters();
    const outcomes = task.takeOutcomes();
    // Partitions that grow alike fall due for a snapshot together: one at a time spreads the tens of MB each writes.
    const state = task.encodeState(this.snapshotsWriting === 0);
    this.deps.metrics.stateBytes.observe({ kind: state.full ? 'snapshot' : 'change' }, state.bytes.length);
    this.deps.metrics.checkpointEncodeSeconds.observe((performance.now() - started) / 1000);
    const { redis, consumer } = this.deps;
    // The checkpoint covers every record for the address stage before `to`, and the live counters up
    // to `to`: a live flush (taking both now, at `to`) sends them first, beside the dead letters.
    await Promise.all([this.flushLive(task, options.idle), this.sendDeadLetters(task, letters)]);
    const checkpoint: CheckpointWrite = { offset: to, state, pending: block };
    const write = (async () => {
      crashPoint('during-redis-commit', { deferred: true });
      const done = await this.retry('redis checkpoint', task.partition, () => redis.commit(task.progressKey, task.epoch, to, NO_INCREMENTS, checkpoint));
      this.deps.metrics.botCorrections.inc(done.takenBack);
      task.checkpointed(to);
      for (let i = 0; i < outcomes.length; i++) this.stats.outcomes[i] += outcomes[i];
      crashPoint('after-redis-checkpoint');
      // Even an empty block goes with its checkpoint's copy: ClickHouse keeps the whole state chain.
      await this.writeBlock(task.topic, task.partition, task.progressKey, task.epoch, checkpoint);
      // The Kafka offset only tells lag and where a fresh group starts (a new owner seeks to the
      // checkpoint), so nothing waits for it: a restarting broker must not hold flushes or shutdown.
      void commitWithin(consumer.commitOffsets([{ topic: task.topic, partition: task.partition, offset: String(to) }]), 5_000).catch((err: Error) => {
        this.deps.log.warn({ partition: task.partition, offset: to, err: err.message }, 'kafka offset commit failed; the checkpoint in Redis stands');
      });
      this.stats.checkpoints++;
      this.lastCheckpointAt.set(task.partition, Date.now());
      this.deps.metrics.checkpointSeconds.observe((performance.now() - started) / 1000);
    })();
    if (state.full) {
      this.snapshotsWriting++;
      write.then(
        () => this.snapshotsWriting--,
        () => this.snapshotsWriting--,
      );
    }
    task.writingBlock(write, to);
    if (options.settle) await task.blockWritten();
  }

  /** Sends a checkpoint's dead letters, if it has any. */
  private async sendDeadLetters(task: PartitionTask, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.retry('dead-letter produce', task.partition, () => this.deps.deadLetters.send(letters));
    this.deps.metrics.deadLetters.inc(letters.length);
  }

  /** Sends a task's records and marker to the address stage, when there are records or the marker moved. */
  private async sendAddressRecords(task: PartitionTask, idle: boolean): Promise<void> {
    if (task.nextOffset < 0 || !task.addressRecordsDue(idle)) return;
    const messages = task.takeAddressRecords(idle);
    await this.retry('address records produce', task.partition, () => this.deps.addressRecords.send(task.partition, messages));
  }

  /** Claims a partition, retrying while Redis is unavailable. */
  claim<T>(fn: () => Promise<T>, partition: number): Promise<T> {
    return this.retry('redis claim', partition, fn);
  }

  /**
   * Writes a checkpoint's block to ClickHouse (after the copy of the checkpoint's state link) and forgets it in Redis.
   * Also re-inserts the block a previous owner recorded but may not have written (`recovered`):
   * only the parts ClickHouse has no landed marker of, since its token may be forgotten by now.
   */
  async writeBlock(topic: string, partition: number, key: string, epoch: number, checkpoint: CheckpointWrite, options: { recovered?: boolean } = {}): Promise<void> {
    const block = checkpoint.pending;
    const copy = checkpointCopy(this.deps.group, topic, partition, checkpoint);
    const rest = options.recovered ? await this.retry('clickhouse landed check', partition, () => this.deps.unlanded(block)) : block;
    await this.retry('clickhouse insert', partition, () => this.deps.clickhouse.write(rest, copy));
    crashPoint('after-clickhouse-insert');
    await this.retry('redis clear pending', partition, () => this.deps.redis.clearPending(key, epoch, block));
  }

  /** Runs a sink call until it succeeds, backing off while it fails retriably, counting and logging each retry. */
  retry<T>(what: string, partition: number, fn: () => Promise<T>): Promise<T> {
    return retrying(fn, {
      signal: this.deps.signal,
      onRetry: (err, attempt, delayMs) => {
        this.stats.sinkRetries++;
        this.deps.metrics.sinkRetries.inc({ what });
        this.deps.log[retryLogLevel(attempt)]({ partition, attempt, delayMs, err: (err as Error).message }, `${what} failed; retrying`);
      },
    }).catch((err) => {
      if (err instanceof FencedError) this.deps.log.warn({ partition }, err.message);
      else if (!isRetriable(err)) this.deps.log.error({ partition, err: (err as Error).message }, `${what} failed for good; the job stops`);
      throw err;
    });
  }
}

/** An offset commit that gives up after `ms`: Kafka may be restarting, and the checkpoint in Redis stands anyway. */
function commitWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
