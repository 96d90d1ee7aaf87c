import { BoundedTtlMap, type BoundedTtlMapDelta, type BoundedTtlMapSnapshot } from '../operators/bounded-ttl-map.ts';
import { PartitionWatermark } from '../operators/watermark.ts';
import { MinuteWindows, type MinuteWindowsSnapshot } from '../operators/tumbling-window.ts';
import { LiveCounts } from '../operators/live-counts.ts';
import { createBotScorer, type BotScorer, type BotScorerDelta, type BotScorerState } from '../operators/bot-scorer.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import type { PartitionBatch } from '../operators/view-record.ts';
import type { ClickHouseBlock, RejectedRow } from '../sinks/clickhouse-block.ts';
import type { DeadLetter } from '../sinks/dead-letter-sink.ts';
import { blockToken } from '../sinks/clickhouse-block.ts';
import { decodePayload, encodePayload } from '../sinks/checkpoint-codec.ts';
import type { EncodedState } from '../sinks/redis-sink.ts';
import type { JobConfig } from './config.ts';
import { ipPrefix, type IpHasher } from './ip-privacy.ts';

/** What every stored state of a partition holds whole: position, watermark and open windows (small). */
interface PartitionHead {
  nextOffset: number;
  maxEventTs: number | null;
  windows: MinuteWindowsSnapshot;
  checkpoints: number;
}

/** Everything that decides outcomes for a partition: a full snapshot, the first of a checkpoint chain. */
export interface PartitionSnapshot extends PartitionHead {
  /** Absent in checkpoints written before deltas existed. */
  full?: true;
  eventIds: BoundedTtlMapSnapshot;
  sessions: BoundedTtlMapSnapshot;
  bots: BotScorerState;
}

/** The keyed state's change since the previous link of the chain, with the head whole. */
export interface PartitionDelta extends PartitionHead {
  full: false;
  eventIds: BoundedTtlMapDelta;
  sessions: BoundedTtlMapDelta;
  bots: BotScorerDelta;
}

/** One stored link of a partition's checkpoint chain: a full snapshot, then deltas. */
export type PartitionState = PartitionSnapshot | PartitionDelta;

// A chain is compacted into a new snapshot once its deltas weigh as much as its snapshot (a restore
// then reads at most twice the state), or after this many links (a restore applies them all).
const MAX_CHAIN = 500;

/** The newest link of a stored chain, as written. */
export function newestLink(chain: readonly Buffer[]): EncodedState {
  return { full: chain.length === 1, bytes: chain[chain.length - 1] };
}

/** The newest link of a stored chain, decoded: position, watermark and open windows are whole in every link. */
export function newestState(chain: readonly Buffer[]): PartitionState {
  return decodePayload<PartitionState>(newestLink(chain).bytes);
}

/** One partition as this worker owns it: its operator state, and what waits to be flushed. */
export class PartitionTask {
  // configuration
  readonly topic: string;
  readonly partition: number;
  readonly progressKey: string;
  readonly epoch: number;
  // checkpointed state
  nextOffset = -1;
  readonly watermark: PartitionWatermark;
  readonly eventIds: BoundedTtlMap;
  readonly sessions: BoundedTtlMap;
  readonly bots: BotScorer;
  readonly windows = new MinuteWindows();
  private checkpoints = 0;
  // the stored chain this task extends: bytes of its snapshot and of its deltas, and its length
  private chain = { snapshotBytes: 0, deltaBytes: 0, links: 0 };
  // not checkpointed: outputs since the last flush, and replay bookkeeping
  /** Live counters already hold the events before this offset: a replay must not add them again. */
  liveSkipBelow: number;
  live = new LiveCounts();
  liveEvents = 0;
  rejected: RejectedRow[] = [];
  deadLetters: DeadLetter[] = [];
  /** Offset of the last checkpoint: the next ClickHouse block starts here. */
  checkpointOffset: number;
  /** The last checkpoint's ClickHouse write while it runs; null once written. */
  blockWrite: Promise<void> | null = null;
  /** Why that write failed, for the next checkpoint to throw. */
  blockWriteError: Error | null = null;

  constructor(options: {
    topic: string;
    partition: number;
    progressKey: string;
    epoch: number;
    config: JobConfig;
    partitionCount: number;
    botRules: () => BotRules;
    livePosition: number;
    checkpointOffset: number;
  }) {
    const { config } = options;
    this.topic = options.topic;
    this.partition = options.partition;
    this.progressKey = options.progressKey;
    this.epoch = options.epoch;
    this.watermark = new PartitionWatermark(config.time.outOfOrdernessMs);
    this.eventIds = new BoundedTtlMap({ ttlMs: config.view.eventIdHorizonMs, maxEntries: config.view.maxDedupKeys });
    this.sessions = new BoundedTtlMap({ ttlMs: config.view.sessionWindowMs, maxEntries: config.view.maxDedupKeys });
    this.bots = createBotScorer({ partitionCount: options.partitionCount, rules: options.botRules, watch: config.view });
    this.liveSkipBelow = options.livePosition;
    this.checkpointOffset = options.checkpointOffset;
    this.nextOffset = options.checkpointOffset;
  }

  /** Drops records this task has already processed (a re-fetch after a rebalance or seek). */
  trim<T extends PartitionBatch>(batch: T): T {
    if (this.nextOffset < 0 || batch.records.length === 0 || batch.records[0].offset >= this.nextOffset) return batch;
    batch.records = batch.records.filter((r) => r.offset >= this.nextOffset);
    return batch;
  }

  /** Takes a classified, windowed batch's outputs: live increments, rejected rows, dead letters. */
  collect(batch: PartitionBatch, hasher: IpHasher): void {
    for (const r of batch.records) {
      if (r.outcome === 'invalid' && r.event === null) {
        this.deadLetters.push({ partition: this.partition, offset: r.offset, value: r.value, reason: r.error ?? 'undecodable' });
      } else if (r.outcome === 'counted' && r.offset >= this.liveSkipBelow) {
        this.live.add(r);
        this.liveEvents++;
      } else if (r.outcome === 'bot') {
        const e = r.event!;
        this.rejected.push({
          ts: e.ts,
          video_id: e.video_id,
          event_id: e.event_id,
          score: r.bot!.score,
          reasons: r.bot!.reasons,
          ip_hash: hasher.hash(e.ip, e.ts),
          ip_prefix: ipPrefix(e.ip),
          user_agent: e.user_agent,
        });
      }
    }
    if (batch.nextOffset > this.nextOffset) this.nextOffset = batch.nextOffset;
  }

  /** Hands over the undecodable messages gathered since the last checkpoint. */
  takeDeadLetters(): DeadLetter[] {
    const letters = this.deadLetters;
    this.deadLetters = [];
    return letters;
  }

  /** Hands over the live increments gathered since the last flush. */
  takeLive(): LiveCounts {
    const live = this.live;
    this.live = new LiveCounts();
    this.liveEvents = 0;
    return live;
  }

  /** Fires the windows the watermark has passed and builds the ClickHouse block for this checkpoint. */
  takeBlock(watermark: number, group: string): ClickHouseBlock {
    const fired = this.windows.fire(watermark);
    const rejected = this.rejected;
    this.rejected = [];
    this.checkpoints++;
    const token = `${blockToken(group, this.topic, this.partition, this.checkpointOffset, this.nextOffset)}/${this.epoch}.${this.checkpoints}`;
    return { token, views: fired.views, outcomes: fired.outcomes, rejected };
  }

  /**
   * The state to store with the next checkpoint: the change since the last one, appended to the
   * stored chain — or a full snapshot starting a new chain when there is none yet or the deltas
   * have grown as heavy as the snapshot. The state is taken, and the keyed state's change tracking
   * restarts, before this returns; only the compression is awaited.
   */
  async encodeState(): Promise<EncodedState> {
    const c = this.chain;
    if (c.links > 0 && c.deltaBytes < c.snapshotBytes && c.links < MAX_CHAIN) {
      c.links++;
      const bytes = await encodePayload(this.delta());
      c.deltaBytes += bytes.length;
      return { full: false, bytes };
    }
    const bytes = await encodePayload(this.snapshot());
    this.chain = { snapshotBytes: bytes.length, deltaBytes: 0, links: 1 };
    return { full: true, bytes };
  }

  snapshot(): PartitionSnapshot {
    return {
      ...this.head(),
      full: true,
      eventIds: this.eventIds.snapshot(),
      sessions: this.sessions.snapshot(),
      bots: this.bots.snapshot(),
    };
  }

  private delta(): PartitionDelta {
    return { ...this.head(), full: false, eventIds: this.eventIds.delta(), sessions: this.sessions.delta(), bots: this.bots.delta() };
  }

  private head(): PartitionHead {
    return {
      nextOffset: this.nextOffset,
      maxEventTs: Number.isFinite(this.watermark.maxEventTs) ? this.watermark.maxEventTs : null,
      windows: this.windows.snapshot(),
      checkpoints: this.checkpoints,
    };
  }

  /** Restores a stored chain: a full snapshot, then the deltas written after it, in order. */
  restore(chain: readonly Buffer[]): void {
    const links = chain.map((b) => decodePayload<PartitionState>(b));
    const [first, ...rest] = links;
    if (first === undefined || first.full === false) throw new Error(`partition ${this.partition}: a checkpoint chain must start with a full snapshot`);
    const deltas = rest.map((d) => {
      if (d.full !== false) throw new Error(`partition ${this.partition}: a full snapshot in the middle of a checkpoint chain`);
      return d;
    });
    const last = links[links.length - 1];
    this.nextOffset = last.nextOffset;
    this.checkpointOffset = last.nextOffset;
    this.watermark.maxEventTs = last.maxEventTs ?? Number.NEGATIVE_INFINITY;
    this.eventIds.restore(first.eventIds, deltas.map((d) => d.eventIds));
    this.sessions.restore(first.sessions, deltas.map((d) => d.sessions));
    this.bots.restore(first.bots, deltas.map((d) => d.bots));
    this.windows.restore(last.windows);
    this.checkpoints = last.checkpoints;
    this.chain = { snapshotBytes: chain[0].length, deltaBytes: chain.slice(1).reduce((n, b) => n + b.length, 0), links: chain.length };
  }
}
