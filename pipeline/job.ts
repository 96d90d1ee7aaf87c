import { concatMap, filter, lastValueFrom, map, takeUntil, Subject, tap } from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import type { Consumer } from 'kafkajs';
import { createKafka } from './kafka-client.ts';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { STOP_CHECKPOINT_MS, type JobConfig } from './config.ts';
import type { PartitionTask } from './partition-task.ts';
import { Assignment } from './assignment.ts';
import { Committer } from './committer.ts';
import { kafkaBatches, type SourcedBatch } from './kafka-source.ts';
import { ensureJobTopics, subscribeWhenKnown } from './topic.ts';
import { groupConsumer } from './group-consumer.ts';
import { topicDrained } from './topic-drained.ts';
import { addressKeySeed, ipHashSecret, IpHasher } from './ip-privacy.ts';
import { VerdictFeed } from './verdict-feed.ts';
import { startAddressStage } from './address-stage.ts';
import { FencedError } from '../sinks/sink-errors.ts';
import { ViewtallyError } from '../schemas/errors.ts';
import { crashPoint } from './crash-points.ts';
import { isRetriable, retrying } from './retry.ts';
import { createJobMetrics, serveMetrics } from './metrics.ts';
import { STALL_CHECKPOINTS, StallWatch, topicEnds } from './stall-watch.ts';
import { decode } from '../operators/decode.ts';
import { classify } from '../operators/classify.ts';
import { tumblingWindow } from '../operators/tumbling-window.ts';
import { joinAddressVerdicts } from '../operators/address-join.ts';
import { JobWatermark } from '../operators/watermark.ts';
import { watchBotRules } from '../operators/bot-rules-source.ts';
import { RedisSink } from '../sinks/redis-sink.ts';
import { createRedisClient } from '../sinks/redis-client.ts';
import { progressKey, recordShards } from '../sinks/live-counters.ts';
import { ClickHouseSink } from '../sinks/clickhouse-sink.ts';
import { latestCopyOffset } from '../sinks/checkpoint-copies.ts';
import { COPY_PRUNE_INTERVAL_MS, CopyPruner } from '../sinks/checkpoint-copy-pruner.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { OUTCOMES } from '../schemas/view-event.ts';
import { unlandedPart } from '../sinks/landed-blocks.ts';
import { DeadLetterSink } from '../sinks/dead-letter-sink.ts';
import { AddressRecordSink } from '../sinks/address-record-sink.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { migrate } from '../clickhouse/migrations.ts';
import { insertRouting, readClusterLayout } from '../clickhouse/schema-layout.ts';
import { CheckpointSchedule } from './checkpoint-schedule.ts';

/** A batch with the task that owns its partition. */
interface JobBatch extends SourcedBatch {
  task: PartitionTask;
}

/** What a finished run reports; events and outcomes are those it stored (each once, however often it replayed). */
export interface JobSummary {
  events: number;
  byOutcome: Record<string, number>;
  elapsedMs: number;
  checkpoints: number;
  windowsFired: number;
  lateEvents: number;
}

/** Options of {@link runJob}. */
export interface RunOptions {
  /** Exit once every partition is drained, every window has fired and everything is written. */
  untilIdle?: boolean;
  log: Logger;
  /** Aborting stops the job gracefully: flush, checkpoint, leave the group. */
  signal?: AbortSignal;
  now?: () => number;
  /** Serve /metrics, /healthz and /readyz on this port (127.0.0.1). */
  metricsPort?: number;
  /** Awaited once everything is connected, just before joining the consumer group (worker threads join together). */
  beforeJoining?: () => Promise<void>;
  /** The ClickHouse migrations were applied already (by the process that started this worker thread). */
  migrated?: boolean;
  /** As one worker thread of a process: no process metrics; the metrics and readiness go to `expose` instead of a port. */
  expose?: (job: { registry: Registry; ready: () => boolean }) => void;
}

/** Waits for `p` at most `ms`; failures and time-outs alike end the wait. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  await within(p.catch(() => {}), ms);
}

/** Waits for `p` for at most `ms`: true once it has resolved, false if the time ran out first (a later failure is then ignored); a failure in time is thrown. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  p.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(r, ms, false)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the job: one consumer-group member reading the topic and writing ClickHouse and Redis exactly once. */
export async function runJob(config: JobConfig, options: RunOptions): Promise<JobSummary> {
  const { log } = options;
  const now = options.now ?? Date.now;
  const started = now();
  // failures surface on commands, where they are retried
  const redis = createRedisClient(config.redis, { redis: { maxRetriesPerRequest: 2 } });
  const clickhouseClient = createClickHouseClient(config.clickhouse);
  const cluster = await readClusterLayout(clickhouseClient);
  if (!options.migrated) await migrate(clickhouseClient, cluster);
  // `viewtally status` shows this as a partition's owner: which host, process and worker thread
  const kafka = createKafka(`viewtally-${hostname()}-${process.pid}${threadId === 0 ? '' : `-w${threadId}`}`, config.brokers);
  const admin = kafka.admin();
  await admin.connect();
  const { partitionCount, deadLetterBytes, addressPartitions } = await ensureJobTopics(admin, config.topic, config.group, config.partitions);
  await retrying(() => recordShards(redis, config, partitionCount), {
    signal: options.signal,
    onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'recording the partition count in Redis failed; retrying'),
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const botRules = watchBotRules(config.botRulesPath, {
    onReload: () => log.info({ path: config.botRulesPath }, 'bot rules reloaded'),
    onError: (err: Error) => log.error({ path: config.botRulesPath, err: err.message }, 'bot rules file invalid; keeping the previous rules'),
  });
  const stop = new AbortController();
  if (options.signal?.aborted) stop.abort();
  else options.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // 1 MiB per partition per fetch (~4 000 events, a turn of ~50 ms): the address stage's records and
  // verdicts wait behind each batch on this event loop. With 4 MiB, in a catch-up, verdicts trailed
  // the partitions by 45 event-minutes instead of 18, held views and open windows were 2.5× as many,
  // checkpoints twice as long, and the job slower (bench --job-only --events 3000000, runs interleaved).
  const consumer: Consumer = groupConsumer(kafka, config, config.group, stop.signal, { maxBytesPerPartition: 1 << 20 });
  await consumer.connect();
  await subscribeWhenKnown(consumer, config.topic);

  const redisSink = new RedisSink(redis);
  const lags = new Map<number, number>();
  const metrics = createJobMetrics({
    lag: () => lags,
    watermarkDelayMs: () => (Number.isFinite(watermark.current) ? Date.now() - watermark.current : 0),
    checkpointAgeMs: () => new Map([...committer.lastCheckpointAt].map(([p, at]) => [p, Date.now() - at])),
    dedupEntries: () => [...tasks.values()].reduce((n, t) => n + t.eventIds.size + t.sessions.size, 0),
    dedupEvictions: () => [...tasks.values()].reduce((n, t) => n + t.eventIds.evictions + t.sessions.evictions, 0),
    botKeys: () => [...tasks.values()].reduce((n, t) => n + t.bots.size(), 0),
    pendingEvents: () => pendingEvents(),
    stateMemoryBytes: () => [...tasks.values()].reduce((n, t) => n + t.eventIds.memoryBytes() + t.sessions.memoryBytes() + t.bots.memoryBytes(), 0) + addressStage.memoryBytes(),
    provisionalViews: () => [...tasks.values()].reduce((n, t) => n + t.address.held.counted, 0),
    verdictDelayMs: () => Math.max(0, ...[...tasks.values()].map((t) => t.address.verdicts.watermark).filter(Number.isFinite).map((vw) => Date.now() - vw)),
    addressRecordsSetAside: () => addressStage.setAside(),
    stalled: () => stalls.stalled(),
  }, { processMetrics: options.expose === undefined });
  const committer = new Committer({
    metrics,
    redis: redisSink,
    clickhouse: new ClickHouseSink(
      clickhouseClient,
      insertRouting(cluster),
      new CopyPruner(clickhouseClient, {
        cluster,
        intervalMs: COPY_PRUNE_INTERVAL_MS,
        now,
        onError: (err) => log.warn({ err: err.message }, 'deleting obsolete checkpoint copies failed; retried with the next snapshot'),
      }),
    ),
    unlanded: (block) => unlandedPart(clickhouseClient, block),
    deadLetters: new DeadLetterSink(producer, config.topic, {
      maxMessageBytes: deadLetterBytes,
      onPoison: (letter, err) => {
        metrics.poisonRecords.inc({ sink: 'dead-letters' });
        log.error({ partition: letter.partition, offset: letter.offset, bytes: letter.value?.length ?? 0, err: err.message }, 'poison: the broker refused this dead letter even headers only; skipped');
      },
    }),
    addressRecords: new AddressRecordSink(producer, config.topic, config.group),
    consumer,
    group: config.group,
    log,
    signal: stop.signal,
  });
  const ipSecret = ipHashSecret();
  const hasher = new IpHasher(ipSecret);
  const watermark = new JobWatermark({ idlenessMs: config.time.idlenessMs, now });
  const assignment = new Assignment({
    config,
    addressPartitions,
    redis: redisSink,
    committer,
    botRules: () => botRules.current(),
    copyOffset: (p) => latestCopyOffset(clickhouseClient, config.group, config.topic, p),
    fingerprints: new Fingerprinter(config.stateSeed),
    addressKeys: new Fingerprinter(addressKeySeed(ipSecret)),
    hasher,
    startOffset: async (p) => {
      const committed = (await admin.fetchOffsets({ groupId: config.group, topics: [config.topic] }))[0]?.partitions.find((c) => c.partition === p);
      if (committed && Number(committed.offset) >= 0) return Number(committed.offset);
      return Number((await admin.fetchTopicOffsets(config.topic)).find((o) => o.partition === p)?.low ?? 0);
    },
    watermark,
    log,
  });
  const tasks = assignment.tasks;
  const ends = topicEnds(kafka, config.topic);
  const stalls = new StallWatch({
    checkpoints: STALL_CHECKPOINTS,
    checkpointIntervalMs: config.checkpointIntervalMs,
    now,
    positions: () => new Map(assignment.assigned.map((p) => [p, tasks.get(p)?.checkpointOffsetNow ?? null])),
    ends: ends.fetch,
    log,
  }).start();

  const verdicts = new VerdictFeed(kafka, { topic: config.topic, group: config.group });
  await verdicts.start();
  /** Moves the outcomes a task decided since the last report (in a batch, or releasing held views) into the metrics. */
  const reportOutcomes = (task: PartitionTask) => {
    const counts = task.batchOutcomes;
    for (let i = 0; i < OUTCOMES.length; i++) if (counts[i] > 0) metrics.events.inc({ outcome: OUTCOMES[i] }, counts[i]);
    counts.fill(0);
  };
  /** Reads the verdicts a task has not read yet; whether it has read every one Redis had applied when it claimed the partition. */
  const readVerdicts = (task: PartitionTask): boolean => {
    verdicts.read(task.address.verdicts.cursor, (value, offset) => task.readVerdicts(value, offset));
    return task.address.verdicts.cursor >= task.verdictsRequired;
  };
  // Once the topic is drained (`--until-idle`), every partition tells the address stage it is idle.
  let drainedIdle = false;
  /**
   * A partition is idle for the address stage only once it is known read to its end (its position at
   * the end last sampled) and no events came for the idleness timeout. A task just claimed has read
   * nothing yet: were it idle, the others' markers would let the address stage judge minutes its
   * records have still to reach.
   */
  const idle = (task: PartitionTask) => {
    if (drainedIdle) return true;
    const end = stalls.endOf(task.partition);
    return end !== undefined && task.nextOffset >= end && watermark.idle(task.partition);
  };

  /** What stopped the job before it was asked to stop: the run then fails instead of ending as done. */
  let failure: Error | null = null;
  const fail = (err: Error, what: string) => {
    if (stop.signal.aborted) return;
    log.error({ err: err.message }, what);
    failure = err;
    stop.abort();
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const partitions = e.payload.memberAssignment[config.topic] ?? [];
    assignment.reassign(partitions);
    consumer.resume([{ topic: config.topic, partitions }]); // undo pauses of fenced partitions now ours again
  });
  // A crashed consumer is out of the group until it joins again: claiming its old partitions
  // meanwhile would fence their new owner, again and again.
  consumer.on(consumer.events.CRASH, () => assignment.reassign([]));

  function pendingEvents(): number {
    let n = 0;
    for (const t of tasks.values()) n += t.pendingEvents;
    return n;
  }

  await options.beforeJoining?.();
  const addressStage = await startAddressStage({ kafka, admin, producer, redis: redisSink, committer, config, sourcePartitions: partitionCount, botRules: () => botRules.current(), log, signal: stop.signal });
  const closed = new Subject<void>();
  const processing = lastValueFrom(
    // A consumer failure that no restart mends ends the job (kafka-source.ts, group-consumer.ts).
    kafkaBatches(consumer, { signal: stop.signal }).pipe(
      takeUntil(closed),
      concatMap(async (batch) => {
        let task = await assignment.task(batch.partition);
        while (task && pendingEvents() > config.maxPendingEvents && !stop.signal.aborted) {
          await sleep(config.flushIntervalMs / 4); // the committer drains; consumption waits
          task = tasks.get(batch.partition) ?? null;
        }
        if (task && task.nextOffset >= 0 && batch.records[0].offset > task.nextOffset) {
          // Kafka is past the checkpoint (its offset commit ran ahead): go back to where the state is.
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(task.nextOffset) });
          task = null;
        }
        if (task) task.trim(batch);
        // A view is decided only once the verdicts Redis has applied for its partition are read (a restored task reads them again).
        while (task && !readVerdicts(task) && !stop.signal.aborted) {
          await sleep(20);
          task = tasks.get(batch.partition) ?? null;
        }
        return { ...batch, task } as JobBatch;
      }),
      filter((batch) => {
        const keep = batch.task !== null && batch.records.length > 0 && tasks.get(batch.partition) === batch.task;
        if (!keep) batch.done();
        return keep;
      }),
      decode<JobBatch>(),
      classify<JobBatch>({ state: (b) => b.task, view: config.view, time: config.time }),
      joinAddressVerdicts<JobBatch>({ join: (b) => b.task.address }),
      tumblingWindow<JobBatch>({ windows: (b) => b.task.windows }),
      tap((batch) => {
        batch.task.collect(batch);
        crashPoint('mid-batch');
        watermark.touch(batch.partition);
        batch.task.fire(watermark.current);
        reportOutcomes(batch.task);
        metrics.lateEvents.inc(batch.task.batchLate);
        lags.set(batch.partition, Math.max(0, batch.highWatermark - batch.nextOffset));
        batch.done();
      }),
      map(() => undefined),
    ),
    { defaultValue: undefined },
  );
  processing.catch((err: Error) => fail(err, 'consumer failed'));

  /** A live flush or a checkpoint of one task; a final checkpoint waits for ClickHouse, and may fire every open window. */
  const flushTask = async (task: PartitionTask, checkpoint: boolean, final?: { fireAll: boolean }) => {
    try {
      readVerdicts(task);
      reportOutcomes(task); // views released by the verdicts just read: no batch may come to report them
      if (checkpoint) await committer.checkpoint(task, final?.fireAll ? task.watermark.endOfLastMinute : watermark.current, { settle: final !== undefined, idle: idle(task) });
      else await committer.flushLive(task, idle(task));
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
      // Another worker, or reconcile, took the partition over: forget this task. While the group
      // still assigns the partition here, the next tick claims it again from the checkpoint.
      assignment.drop(task.partition, task);
    }
  };

  /**
   * The write in flight of each task and of the address stage. Each writes on its own pace, one
   * write at a time: a partition's checkpoint holds back neither the other partitions' live counts
   * nor the next tick. A checkpoint's own write here ends with its live flush; its state goes on in
   * the background (its Redis commit can take a while with a large state, and carries no
   * increments, so the partition's next live flushes may overtake it: see Committer.checkpoint).
   */
  const addressWriter = { name: 'address stage' }; // its key in these maps
  type Writer = PartitionTask | typeof addressWriter;
  const writing = new Map<Writer, Promise<void>>();
  const schedule = new CheckpointSchedule<Writer>(config.checkpointIntervalMs);
  let flushFailed: (err: Error) => void = () => {};
  const flushFailure = new Promise<never>((_, reject) => (flushFailed = reject));
  flushFailure.catch(() => {}); // raised by the loop
  const startWrite = (unit: Writer, write: () => Promise<void>) => {
    const done = write().finally(() => writing.delete(unit));
    done.catch((err: Error) => flushFailed(err));
    writing.set(unit, done);
  };
  /** Starts a live flush or a due checkpoint of every task, and of the address stage, that is not writing already. */
  const tick = () => {
    const t = now();
    for (const task of tasks.values()) {
      if (writing.has(task)) continue;
      const due = schedule.due(task, task.partition + 1, t);
      startWrite(task, () => flushTask(task, due));
    }
    if (!writing.has(addressWriter)) {
      const due = schedule.due(addressWriter, 0, t);
      startWrite(addressWriter, () => addressStage.flush(due));
    }
  };
  /** Once the writes in flight are done, a live flush or a checkpoint of every task, then of the address stage (the end of a run). */
  const flushAll = async (checkpoint: boolean, final?: { fireAll: boolean }) => {
    await Promise.allSettled([...writing.values()]);
    await Promise.all([...tasks.values()].map((task) => flushTask(task, checkpoint, final)));
    await addressStage.flush(checkpoint);
  };

  /** Every partition of the topic is processed to its end, and every view of ours has its address verdict, all the address stage's input read. */
  const drained = async (): Promise<boolean> => {
    if (!(await sourceDrained())) return false;
    drainedIdle = true;
    for (const t of tasks.values()) if (t.address.held.views > 0 || t.address.verdicts.watermark < t.watermark.endOfLastMinute) return false;
    return addressStage.drained();
  };

  /**
   * Every partition of the topic is processed to its end: ours by our tasks, the others by their
   * checkpoints in Redis (not the group's Kafka offsets: a commit lost to a broker restart is never
   * made again by an owner with nothing new to checkpoint).
   */
  const sourceDrained = async (): Promise<boolean> =>
    // Our partitions count only once claimed: a restored checkpoint may hold windows still to fire.
    assignment.assigned.length > 0 &&
    assignment.assigned.every((p) => tasks.has(p)) &&
    topicDrained(admin, config.topic, (p) => tasks.get(p)?.nextOffset ?? redisSink.checkpointOffset(progressKey(config.group, config.topic, p)));

  const ready = () => assignment.assigned.every((p) => tasks.has(p)) && !stalls.any();
  options.expose?.({ registry: metrics.registry, ready });
  const metricsServer = options.metricsPort
    ? await serveMetrics({ contentType: metrics.registry.contentType, text: () => metrics.registry.metrics(), ready: async () => ready() }, options.metricsPort)
    : null;
  // Ticks at a fixed pace: a slow write delays only its own partition's next one.
  let nextTick = performance.now();
  try {
    while (!stop.signal.aborted) {
      nextTick = Math.max(nextTick + config.flushIntervalMs, performance.now());
      await Promise.race([sleep(nextTick - performance.now(), undefined, { signal: stop.signal }).catch(() => {}), flushFailure]);
      if (stop.signal.aborted) break;
      // Claims may wait on a restarting broker or a reconcile: they run beside the flushes, never in their way.
      void assignment.claimAll().catch((err: Error) => log.error({ err: err.message }, 'claim failed'));
      tick();
      if (options.untilIdle && (await drained())) {
        await flushAll(true, { fireAll: true });
        if (await drained()) break;
      }
    }
    if (!options.untilIdle || stop.signal.aborted) {
      try {
        // The writes in flight count in the deadline: flushAll waits for them first.
        const written = await within(flushAll(true, { fireAll: false }), STOP_CHECKPOINT_MS);
        if (written) log.info({ partitions: [...tasks.keys()] }, 'final checkpoint written');
        // Cut short like a crash, and as exact: what Redis holds is a whole checkpoint, and its pending block is written by the next owner.
        else log.warn({ partitions: [...tasks.keys()], ms: STOP_CHECKPOINT_MS }, 'final checkpoint not written in time (a sink is slow); the next owner replays from the last one');
      } catch (err) {
        // Stopping, the sinks are not retried: a passing failure here loses nothing (the next
        // owner replays from the last checkpoint) and is no reason to report the stop as a failure.
        if (failure !== null || !isRetriable(err)) throw err;
        log.warn({ err: (err as Error).message }, 'final checkpoint not written; the next owner replays from the last one');
      }
    }
  } finally {
    closed.next();
    stalls.close();
    // A broker that does not answer must not hold the exit: each step is bounded, and the clients
    // leave side by side (the address stage's verdicts go out through the producer: it goes last).
    // With the final checkpoint's deadline, the stop ends within 10 + 10 + 5 s, inside STOP_GRACE_MS.
    await Promise.all([bounded(consumer.disconnect(), 10_000), bounded(addressStage.stop(), 10_000), bounded(verdicts.stop(), 5_000), bounded(admin.disconnect(), 5_000), bounded(ends.close(), 5_000)]);
    await Promise.all([bounded(producer.disconnect(), 5_000), bounded(clickhouseClient.close(), 5_000), bounded(processing, 5_000)]);
    botRules.close();
    redis.disconnect();
    metricsServer?.close();
    log.info('left the group');
  }
  if (failure !== null) throw new ViewtallyError(`the job stopped: ${(failure as Error).message}`, { cause: failure });
  let lateEvents = assignment.droppedLateEvents;
  for (const t of tasks.values()) lateEvents += t.windows.lateEvents;
  const byOutcome: Record<string, number> = {};
  OUTCOMES.forEach((o, i) => {
    if (committer.stats.outcomes[i] > 0) byOutcome[o] = committer.stats.outcomes[i];
  });
  const events = committer.stats.outcomes.reduce((a, b) => a + b, 0);
  return { events, byOutcome, elapsedMs: now() - started, checkpoints: committer.stats.checkpoints, windowsFired: committer.stats.windowsFired, lateEvents };
}
