import { concatMap, lastValueFrom, Subject, takeUntil } from 'rxjs';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { IDLE_POLL_MS, type JobConfig } from './config.ts';
import type { Committer } from './committer.ts';
import { AddressTask } from './address-task.ts';
import { kafkaBatches } from './kafka-source.ts';
import { crashPoint } from './crash-points.ts';
import { topicDrained } from './topic-drained.ts';
import { groupConsumer } from './group-consumer.ts';
import { subscribeWhenKnown } from './topic.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import { addressVerdictsTopic, byAddressTopic, splitVerdicts } from '../schemas/address-messages.ts';
import { reconcileLockKey, type RedisSink } from '../sinks/redis-sink.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { FencedError } from '../sinks/sink-errors.ts';
import { ViewtallyError } from '../schemas/errors.ts';
import { sendInternal } from '../sinks/internal-produce.ts';

/** The address stage as one worker runs it (see startAddressStage). */
export interface AddressStage {
  readonly tasks: ReadonlyMap<number, AddressTask>;
  /** Sends every task's due verdicts; with `checkpoint`, then stores each task's state at its position. Throws once the stage's consumer has stopped for good. */
  flush(checkpoint: boolean): Promise<void>;
  /** Every by-address partition is read to its end (ours by our tasks, the others by their checkpoints in Redis) and our verdicts are sent. */
  drained(): Promise<boolean>;
  /** Records our tasks counted for nothing since they were claimed, by kind: duplicate, late, too_late. */
  setAside(): Map<string, number>;
  /** Bytes of our tasks' tables. */
  memoryBytes(): number;
  stop(): Promise<void>;
}

// A checkpoint of the address stage carries no ClickHouse rows: its pending block is always this empty one.
const NO_ROWS = { token: '', views: Buffer.alloc(0), outcomes: Buffer.alloc(0), rejected: Buffer.alloc(0) };

/**
 * Starts the address stage in this worker: a member of the consumer group `<group>.address` on
 * `<topic>.<group>.by-address`, so it balances apart from the counting stage. Each assigned partition is
 * claimed as the counting stage's are (epoch, fencing, restore from the checkpoint chain in Redis
 * under its own progress key), its messages go through its AddressScorer in order, and its verdicts
 * go to `<topic>.<group>.address-verdicts` at every flush — before the checkpoint that covers the input they
 * came from, so a replay after a crash sends them again at most (the counting stage reads a flag
 * twice as once).
 */
export async function startAddressStage(deps: {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  redis: RedisSink;
  committer: Committer;
  config: JobConfig;
  sourcePartitions: number;
  botRules: () => BotRules;
  log: Logger;
  signal: AbortSignal;
}): Promise<AddressStage> {
  const { config, redis, committer, log } = deps;
  const group = `${config.group}.address`;
  const topic = byAddressTopic(config.topic, config.group);
  const tasks = new Map<number, AddressTask>();
  const claims = new Map<number, Promise<AddressTask | null>>();
  let assigned: number[] = [];
  let generation = 0;
  const consumer: Consumer = groupConsumer(deps.kafka, config, group, deps.signal, { maxWaitTimeInMs: IDLE_POLL_MS });
  await consumer.connect();
  await subscribeWhenKnown(consumer, topic);
  // A consumer failure that no restart mends (group-consumer.ts): the stage would judge nothing again.
  let crashed: Error | null = null;
  const reassign = (partitions: number[]) => {
    assigned = partitions;
    generation++;
    tasks.clear();
    claims.clear();
    log.info({ partitions }, 'address partitions assigned');
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => reassign(e.payload.memberAssignment[topic] ?? []));
  // A crashed consumer is out of the group until it joins again: its old partitions are not its own.
  consumer.on(consumer.events.CRASH, () => reassign([]));

  const claim = async (partition: number): Promise<AddressTask | null> => {
    const at = generation;
    const key = progressKey(group, topic, partition);
    const progress = await committer.claim(() => redis.claim(key, reconcileLockKey(config.group, config.topic)), partition);
    if (at !== generation) return null;
    const task = new AddressTask({ partition, progressKey: key, epoch: progress.epoch, sourcePartitions: deps.sourcePartitions, rules: deps.botRules, checkpointOffset: progress.checkpoint?.offset ?? 0 });
    if (progress.checkpoint) task.restore(progress.checkpoint.chain);
    tasks.set(partition, task);
    log.info({ partition, epoch: progress.epoch, checkpoint: progress.checkpoint?.offset ?? null }, 'address partition claimed');
    return task;
  };
  const taskOf = (partition: number): Promise<AddressTask | null> => {
    const task = tasks.get(partition);
    if (task) return Promise.resolve(task);
    if (!assigned.includes(partition)) return Promise.resolve(null);
    let pending = claims.get(partition);
    if (!pending) {
      pending = claim(partition).finally(() => claims.delete(partition));
      claims.set(partition, pending);
    }
    return pending;
  };

  const closed = new Subject<void>();
  const processing = lastValueFrom(
    kafkaBatches(consumer, { signal: deps.signal }).pipe(
      takeUntil(closed),
      concatMap(async (batch) => {
        try {
          const task = await taskOf(batch.partition);
          if (!task || tasks.get(batch.partition) !== task) return;
          if (batch.records[0].offset > task.nextOffset) {
            // Kafka is past the checkpoint: go back to where the state is.
            consumer.seek({ topic, partition: batch.partition, offset: String(task.nextOffset) });
            return;
          }
          for (const r of batch.records) task.add(r.value, r.offset);
          crashPoint('mid-batch');
        } finally {
          batch.done();
        }
      }),
    ),
    { defaultValue: undefined },
  );
  processing.catch((err: Error) => {
    crashed = err;
    log.error({ err: err.message }, 'address stage consumer failed');
  });

  const verdictsTopic = addressVerdictsTopic(config.topic, config.group);
  // A flood of flags (after an outage) goes as several messages, each under the broker's limit.
  const send = async (task: AddressTask, value: Buffer | null) => {
    if (value === null) return;
    const messages = splitVerdicts(value).map((part) => ({ partition: 0, key: String(task.partition), value: part }));
    await committer.retry('address verdicts produce', task.partition, () => sendInternal(deps.producer, verdictsTopic, messages));
  };
  const checkpoint = async (task: AddressTask) => {
    const { verdicts, offset: to, state } = task.takeCheckpoint();
    await send(task, verdicts);
    await committer.retry('redis address checkpoint', task.partition, () => redis.commit(task.progressKey, task.epoch, to, Buffer.alloc(0), { offset: to, state, pending: NO_ROWS }));
    crashPoint('after-redis-checkpoint');
    void consumer.commitOffsets([{ topic, partition: task.partition, offset: String(to) }]).catch(() => {});
  };

  return {
    tasks,
    async flush(withCheckpoint) {
      if (crashed) throw new ViewtallyError(`the address stage's consumer stopped: ${(crashed as Error).message}`, { cause: crashed });
      void Promise.all(assigned.map(taskOf)).catch((err: Error) => log.error({ err: err.message }, 'address claim failed'));
      for (const task of [...tasks.values()]) {
        try {
          if (withCheckpoint) await checkpoint(task);
          else await send(task, task.takeVerdicts());
        } catch (err) {
          if (!(err instanceof FencedError)) throw err;
          if (tasks.get(task.partition) === task) tasks.delete(task.partition);
        }
      }
    },
    async drained() {
      if (assigned.some((p) => !tasks.has(p)) || [...tasks.values()].some((t) => t.verdictsDue)) return false;
      return topicDrained(deps.admin, topic, (p) => tasks.get(p)?.nextOffset ?? redis.checkpointOffset(progressKey(group, topic, p)));
    },
    setAside() {
      const n = new Map([['duplicate', 0], ['late', 0], ['too_late', 0]]);
      for (const { scorer } of tasks.values()) {
        n.set('duplicate', n.get('duplicate')! + scorer.stats.duplicates);
        n.set('late', n.get('late')! + scorer.stats.late);
        n.set('too_late', n.get('too_late')! + scorer.stats.tooLate);
      }
      return n;
    },
    memoryBytes: () => [...tasks.values()].reduce((n, t) => n + t.scorer.table.memoryBytes(), 0),
    async stop() {
      closed.next();
      await consumer.disconnect().catch(() => {});
      await processing.catch(() => {});
    },
  };
}
