import { DedupStore, entriesForBudget } from '../operators/dedup-store.ts';
import type { Fingerprinter } from '../operators/fingerprint.ts';
import { PartitionWatermark } from '../operators/watermark.ts';
import { MinuteWindows } from '../operators/tumbling-window.ts';
import { LiveCounts } from '../operators/live-counts.ts';
import { createBotScorer, type BotScorer } from '../operators/bot-scorer.ts';
import { AddressJoin, idleWatermark } from '../operators/address-join.ts';
import type { AddressFlush } from '../schemas/address-messages.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import type { PartitionBatch, ViewRecord } from '../operators/view-record.ts';
import { OUTCOMES } from '../schemas/view-event.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { WriterPool } from '../schemas/writer-pool.ts';
import { writeRejectedRow } from '../schemas/clickhouse-rows.ts';
import { blockToken, type ClickHouseBlock } from '../sinks/clickhouse-block.ts';
import type { DeadLetter } from '../sinks/dead-letter-sink.ts';
import type { EncodedState, ProvisionalWrite } from '../sinks/redis-sink.ts';
import { isCurrentChain, readPartitionState, writePartitionState } from './partition-state.ts';
import { StateChain } from './state-chain.ts';
import type { JobConfig } from './config.ts';
import { ipPrefix, type IpHasher } from './ip-privacy.ts';

const OUTCOME_INDEX = new Map(OUTCOMES.map((o, i) => [o, i]));
const MINUTE = 60_000;
/** The writers of state links, shared by the tasks of a thread (each worker thread has its own). */
const stateWriters = new WriterPool();


/** One partition as this worker owns it: its operator state, and what waits to be flushed. */
export class PartitionTask {
  // configuration
  readonly topic: string;
  readonly partition: number;
  readonly progressKey: string;
  readonly epoch: number;
  readonly fingerprints: Fingerprinter;
  readonly hasher: IpHasher;
  // checkpointed state
  nextOffset = -1;
  readonly watermark: PartitionWatermark;
  readonly eventIds: DedupStore;
  readonly sessions: DedupStore;
  readonly bots: BotScorer;
  readonly windows = new MinuteWindows();
  /** The address stage's records out, its verdicts in, and the views waiting for them. */
  readonly address: AddressJoin;
  private checkpoints = 0;
  // the stored chain this task extends
  private readonly chain = new StateChain();
  /** Writers whose bytes the checkpoint being stored holds: back to the pool once its block is written. */
  private lent: Array<[WriterPool, BinaryWriter]> = [];
  /** Each kind of row a block holds alternates between two writers of its own: one filling, one lent. */
  private readonly rowWriters = { views: new WriterPool(), outcomes: new WriterPool(), rejected: new WriterPool() };
  // not checkpointed: outputs since the last flush, and where the sinks are
  /** Live counters already hold the events before this offset: a replay must not add them again. */
  private liveSkipBelow: number;
  private live = new LiveCounts();
  private rejected = new BinaryWriter(4096);
  private rejectedRows = 0;
  /** Rows of the windows fired since the last checkpoint (fired as batches move the watermark), for its block. */
  private readonly fired = { views: new BinaryWriter(4096), outcomes: new BinaryWriter(4096) };
  private windowsFired = 0;
  /** The minute the last firing reached: a batch fires only once the watermark has passed a new one. */
  private firedMinute = Number.NEGATIVE_INFINITY;
  private deadLetters: DeadLetter[] = [];
  /** Outcomes decided since the job last read (and zeroed) them, by OUTCOMES index, and the late events of the last batch, for the metrics. */
  readonly batchOutcomes = new Float64Array(OUTCOMES.length);
  batchLate = 0;
  /** The verdict-topic position the live counters' script has been given: corrections before it are written. */
  private verdictsFlushed = 0;
  /** Redis had applied the verdicts before this offset when this task claimed the partition: no view is decided before they are read. */
  readonly verdictsRequired: number;
  /** Outcomes collected since the last checkpoint: they count once that checkpoint is stored. */
  private outcomesSinceCheckpoint = new Float64Array(OUTCOMES.length);
  /** Offset of the last checkpoint: the next ClickHouse block starts here. */
  private checkpointOffset: number;
  /** Offset of the last checkpoint whose block ClickHouse has. */
  private writtenOffset: number;
  /** The last checkpoint's ClickHouse write while it runs, and why it failed. */
  private blockWrite: Promise<void> | null = null;
  private blockWriteError: Error | null = null;

  constructor(options: {
    topic: string;
    partition: number;
    progressKey: string;
    epoch: number;
    config: JobConfig;
    addressPartitions: number;
    botRules: () => BotRules;
    fingerprints: Fingerprinter;
    addressKeys: Fingerprinter;
    hasher: IpHasher;
    livePosition: number;
    checkpointOffset: number;
    verdictPosition?: number;
  }) {
    const { config } = options;
    this.topic = options.topic;
    this.partition = options.partition;
    this.progressKey = options.progressKey;
    this.epoch = options.epoch;
    this.fingerprints = options.fingerprints;
    this.hasher = options.hasher;
    this.watermark = new PartitionWatermark(config.time.outOfOrdernessMs);
    const maxEntries = entriesForBudget(config.view.dedupMemoryBytes);
    this.eventIds = new DedupStore({ ttlMs: config.view.eventIdHorizonMs, maxEntries });
    this.sessions = new DedupStore({ ttlMs: config.view.sessionWindowMs, maxEntries });
    this.bots = createBotScorer({ rules: options.botRules, watch: config.view, addressKeys: options.addressKeys });
    this.address = new AddressJoin(options.addressPartitions);
    this.verdictsRequired = options.verdictPosition ?? 0;
    this.liveSkipBelow = options.livePosition;
    this.checkpointOffset = options.checkpointOffset;
    this.writtenOffset = options.checkpointOffset;
    this.nextOffset = options.checkpointOffset;
  }

  /** Drops records this task has already processed (a re-fetch after a rebalance or seek). */
  trim<T extends PartitionBatch>(batch: T): T {
    if (this.nextOffset < 0 || batch.records.length === 0 || batch.records[0].offset >= this.nextOffset) return batch;
    batch.records = batch.records.filter((r) => r.offset >= this.nextOffset);
    return batch;
  }

  /** Takes a classified, windowed batch's outputs: live increments, rejected rows, dead letters. */
  collect(batch: PartitionBatch): void {
    this.batchLate = 0;
    for (const r of batch.records) {
      if (r.late) this.batchLate++;
      if (r.held) {
        // Provisionally counted: live at once (exactly once, by position), with its ledger entry; decided later.
        if (r.outcome === 'counted' && r.offset >= this.liveSkipBelow) {
          this.live.add(r);
          this.address.provisionallyCounted(r);
        }
        continue;
      }
      this.decided(r);
      if (r.outcome === 'invalid' && r.event === null) {
        this.deadLetters.push({ partition: this.partition, offset: r.offset, value: r.value, reason: r.error ?? 'undecodable' });
      } else if (r.outcome === 'counted' && r.offset >= this.liveSkipBelow) {
        this.live.add(r);
      }
    }
    if (batch.nextOffset > this.nextOffset) this.nextOffset = batch.nextOffset;
  }

  /** Reads the verdict message at `offset`, then hands every held view its verdict decided to the windows. */
  readVerdicts(value: Buffer, offset: number): void {
    this.address.readVerdicts(value, offset);
    this.address.release(this.watermark.current, (r) => {
      this.windows.add(r);
      this.decided(r);
    });
  }

  /** Counts a record's final outcome, and writes its `rejected_views` row if it is a bot. */
  private decided(r: ViewRecord): void {
    const i = OUTCOME_INDEX.get(r.outcome!)!;
    this.batchOutcomes[i]++;
    this.outcomesSinceCheckpoint[i]++;
    if (r.outcome !== 'bot') return;
    const e = r.event!;
    writeRejectedRow(this.rejected, {
      ts: e.ts,
      video_id: e.video_id,
      event_id: e.event_id,
      score: r.bot!.score,
      reasons: r.bot!.reasons,
      ip_hash: this.hasher.hash(e.ip, e.ts),
      ip_prefix: ipPrefix(e.ip),
      user_agent: e.user_agent,
    });
    this.rejectedRows++;
  }

  /** Whether the address stage's records and marker are due: records gathered, or the marker moved. */
  addressRecordsDue(idle: boolean): boolean {
    return this.address.recordsDue(this.marker(idle), idle);
  }

  /** The by-address messages of this flush (one or more per address partition): the records since the last, and the marker. */
  takeAddressRecords(idle: boolean): AddressFlush {
    return this.address.takeRecords(this.partition, this.marker(idle), idle);
  }

  /** The ledger entries and corrections of this flush, and how far the verdicts are read. */
  takeProvisional(): ProvisionalWrite {
    const p = this.address.takeProvisional();
    this.verdictsFlushed = p.verdictsTo;
    return p;
  }

  /** An idle partition marks the end of its last minute (and the steps a flag covers); an active one its watermark. */
  private marker(idle: boolean): number {
    return idle ? idleWatermark(this.watermark) : this.watermark.current;
  }

  /** Hands over the outcomes collected since the last checkpoint (by OUTCOMES index), with the checkpoint that will store them. */
  takeOutcomes(): Float64Array {
    const taken = this.outcomesSinceCheckpoint;
    this.outcomesSinceCheckpoint = new Float64Array(OUTCOMES.length);
    return taken;
  }

  /**
   * Events processed and not yet in ClickHouse (since the last checkpoint whose block is written):
   * what the windows, live counts and rejected rows hold for them is what memory holds, so
   * consumption waits above a bound (a slow or unavailable ClickHouse holds the job back
   * instead of piling events up in memory).
   */
  get pendingEvents(): number {
    return Math.max(0, this.nextOffset - this.writtenOffset);
  }

  /** Whether anything waits for the next checkpoint besides new offsets. */
  get hasPendingOutput(): boolean {
    return this.live.events > 0 || this.deadLetters.length > 0;
  }

  /** Whether a live flush up to the current position has anything to do: increments, a new position, ledger entries or corrections. */
  get liveFlushDue(): boolean {
    return this.nextOffset >= 0 && (this.live.events > 0 || this.nextOffset > this.liveSkipBelow || this.address.provisionalDue(this.verdictsFlushed));
  }

  /** Hands over the undecodable messages gathered since the last checkpoint. */
  takeDeadLetters(): DeadLetter[] {
    const letters = this.deadLetters;
    this.deadLetters = [];
    return letters;
  }

  /** Hands over the live increments gathered since the last flush, as the Redis flush payload. */
  takeLive(): Buffer {
    const w = new BinaryWriter(64 + 40 * this.live.events);
    this.live.write(w);
    this.live.clear();
    return w.view();
  }

  /** The live counters now hold everything before `to`. */
  liveFlushed(to: number): void {
    if (to > this.liveSkipBelow) this.liveSkipBelow = to;
  }

  /**
   * Fires the windows the watermark has passed, once it has passed a minute not fired yet: run after
   * each batch, so a checkpoint that comes after many minutes of event time (a catch-up) does not
   * write all their rows at once. The rows wait for the next checkpoint's block.
   */
  fire(watermark: number): void {
    const w = this.firingWatermark(watermark);
    const minute = Math.floor(w / MINUTE);
    if (minute <= this.firedMinute) return;
    this.firedMinute = minute;
    this.windowsFired += this.windows.fire(w, this.fired);
  }

  /** A window fires once its views are final too: the verdict watermark has passed it. */
  private firingWatermark(watermark: number): number {
    return Math.min(watermark, this.address.verdicts.watermark);
  }

  /** Fires what the watermark has passed (late corrections and invalid events too) and builds the ClickHouse block for this checkpoint; returns it with the windows fired since the last. */
  takeBlock(watermark: number, group: string): { block: ClickHouseBlock; windowsFired: number } {
    this.windowsFired += this.windows.fire(this.firingWatermark(watermark), this.fired);
    const views = this.lend(this.rowWriters.views, this.fired.views);
    this.fired.views = this.rowWriters.views.take();
    const outcomes = this.lend(this.rowWriters.outcomes, this.fired.outcomes);
    this.fired.outcomes = this.rowWriters.outcomes.take();
    const windowsFired = this.windowsFired;
    this.windowsFired = 0;
    const rejected = this.lend(this.rowWriters.rejected, this.rejected);
    this.rejected = this.rowWriters.rejected.take();
    this.rejectedRows = 0;
    this.checkpoints++;
    const token = `${blockToken(group, this.topic, this.partition, this.checkpointOffset, this.nextOffset)}/${this.epoch}.${this.checkpoints}`;
    return { block: { token, views, outcomes, rejected }, windowsFired };
  }

  /** What `w` holds, lent with the checkpoint being stored: `w` goes back to `pool` once its block is written. */
  private lend(pool: WriterPool, w: BinaryWriter): Buffer {
    this.lent.push([pool, w]);
    return w.view();
  }

  /** Offset of the last checkpoint. */
  get checkpointOffsetNow(): number {
    return this.checkpointOffset;
  }

  /** Redis holds the checkpoint at `to`: the next block starts there, and the live counters hold everything before it. */
  checkpointed(to: number): void {
    this.checkpointOffset = to;
    this.liveFlushed(to);
  }

  /** The writes of the checkpoint at `to` (its state in Redis, its block in ClickHouse), running in the background; their failure is kept for the next checkpoint to throw. */
  writingBlock(write: Promise<void>, to: number): void {
    const lent = this.lent;
    this.lent = [];
    this.blockWrite = write.then(
      () => {
        for (const [pool, w] of lent) pool.give(w);
        this.blockWrite = null;
        if (to > this.writtenOffset) this.writtenOffset = to;
      },
      (err: Error) => {
        this.blockWrite = null;
        this.blockWriteError = err;
      },
    );
  }

  /** Whether the last checkpoint's writes still run. */
  get writingBlockNow(): boolean {
    return this.blockWrite !== null;
  }

  /** Waits for the last checkpoint's writes, if they run; throws what made one fail. */
  async blockWritten(): Promise<void> {
    await this.blockWrite;
    if (this.blockWriteError) throw this.blockWriteError;
  }

  /**
   * The state to store with the next checkpoint: the change since the last one, appended to the
   * stored chain — or a full snapshot starting a new chain when one is due (StateChain; with
   * `snapshotAllowed` false, only when it cannot wait). Binary, written from the tables directly
   * into a pooled writer that the checkpoint's block write gives back.
   */
  encodeState(snapshotAllowed = true): EncodedState {
    const full = this.chain.nextIsFull(snapshotAllowed);
    const w = stateWriters.take();
    const bytes = writePartitionState(this, full, this.checkpoints, w);
    this.lend(stateWriters, w);
    this.chain.added(full, bytes.length);
    return { full, bytes };
  }

  /** Restores a stored chain: a full snapshot, then the changes written after it, in order. */
  restore(chain: readonly Buffer[]): void {
    const head = readPartitionState(this, chain);
    this.nextOffset = head.nextOffset;
    this.checkpointOffset = head.nextOffset;
    this.writtenOffset = head.nextOffset;
    this.checkpoints = head.checkpoints;
    // A chain of an earlier format is followed by a snapshot of this one.
    this.chain.restored(chain, isCurrentChain(chain));
  }
}
