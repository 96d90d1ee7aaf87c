import { BoundedTtlMap, type BoundedTtlMapSnapshot } from '../operators/bounded-ttl-map.ts';
import { PartitionWatermark } from '../operators/watermark.ts';
import { MinuteWindows, type MinuteWindowsSnapshot } from '../operators/tumbling-window.ts';
import { LiveCounts } from '../operators/live-counts.ts';
import { createBotScorer, type BotScorer, type BotScorerState } from '../operators/bot-scorer.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import type { PartitionBatch } from '../operators/view-record.ts';
import type { ClickHouseBlock, RejectedRow } from '../sinks/clickhouse-block.ts';
import type { DeadLetter } from '../sinks/dead-letter-sink.ts';
import { blockToken } from '../sinks/clickhouse-block.ts';
import type { JobConfig } from './config.ts';
import { ipPrefix, type IpHasher } from './ip-privacy.ts';

/** Everything that decides outcomes for a partition, as stored in its checkpoint. */
export interface PartitionSnapshot {
  nextOffset: number;
  maxEventTs: number | null;
  eventIds: BoundedTtlMapSnapshot;
  sessions: BoundedTtlMapSnapshot;
  bots: BotScorerState;
  windows: MinuteWindowsSnapshot;
  checkpoints: number;
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
  // not checkpointed: outputs since the last flush, and replay bookkeeping
  /** Live counters already hold the events before this offset: a replay must not add them again. */
  liveSkipBelow: number;
  live = new LiveCounts();
  liveEvents = 0;
  rejected: RejectedRow[] = [];
  deadLetters: DeadLetter[] = [];
  /** Offset of the last checkpoint: the next ClickHouse block starts here. */
  checkpointOffset: number;

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
    this.bots = createBotScorer({ partitionCount: options.partitionCount, rules: options.botRules });
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

  snapshot(): PartitionSnapshot {
    return {
      nextOffset: this.nextOffset,
      maxEventTs: Number.isFinite(this.watermark.maxEventTs) ? this.watermark.maxEventTs : null,
      eventIds: this.eventIds.snapshot(),
      sessions: this.sessions.snapshot(),
      bots: this.bots.snapshot(),
      windows: this.windows.snapshot(),
      checkpoints: this.checkpoints,
    };
  }

  restore(s: PartitionSnapshot): void {
    this.nextOffset = s.nextOffset;
    this.checkpointOffset = s.nextOffset;
    this.watermark.maxEventTs = s.maxEventTs ?? Number.NEGATIVE_INFINITY;
    this.eventIds.restore(s.eventIds);
    this.sessions.restore(s.sessions);
    this.bots.restore(s.bots);
    this.windows.restore(s.windows);
    this.checkpoints = s.checkpoints;
  }
}
