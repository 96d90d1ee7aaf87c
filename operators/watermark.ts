/** Per-partition watermark: max event time seen − bounded out-of-orderness. Deterministic in the partition's order. */
export class PartitionWatermark {
  // configuration
  readonly outOfOrdernessMs: number;
  // checkpointed state
  maxEventTs = Number.NEGATIVE_INFINITY;

  constructor(outOfOrdernessMs: number) {
    this.outOfOrdernessMs = outOfOrdernessMs;
  }

  /** Records a valid event's time; invalid events must never reach this. */
  observe(ts: number): void {
    if (ts > this.maxEventTs) this.maxEventTs = ts;
  }

  get current(): number {
    return this.maxEventTs - this.outOfOrdernessMs;
  }

  /** The end of the minute of the latest event (-Infinity before any): a watermark there fires every window seen, and no later one. */
  get endOfLastMinute(): number {
    return Number.isFinite(this.maxEventTs) ? Math.floor(this.maxEventTs / MINUTE) * MINUTE + MINUTE : Number.NEGATIVE_INFINITY;
  }
}

const MINUTE = 60_000;

/**
 * The job's watermark: the minimum over active partitions, where a partition that has seen
 * no events for `idlenessMs` (processing time, from the injected clock) stops holding it back.
 */
export class JobWatermark {
  // configuration
  private readonly idlenessMs: number;
  private readonly now: () => number;
  // not checkpointed: activity is processing time
  private readonly lastActiveAt = new Map<number, number>();
  private readonly watermarks = new Map<number, PartitionWatermark>();
  // a watermark never goes back, even when an idle partition becomes active again
  private emitted = Number.NEGATIVE_INFINITY;

  constructor(options: { idlenessMs: number; now: () => number }) {
    this.idlenessMs = options.idlenessMs;
    this.now = options.now;
  }

  /** Registers a partition's watermark; it counts as active from now. */
  track(partition: number, watermark: PartitionWatermark): void {
    this.watermarks.set(partition, watermark);
    this.lastActiveAt.set(partition, this.now());
  }

  untrack(partition: number): void {
    this.watermarks.delete(partition);
    this.lastActiveAt.delete(partition);
  }

  /** Marks a partition active because it just delivered events. */
  touch(partition: number): void {
    this.lastActiveAt.set(partition, this.now());
  }

  /** Whether a partition has delivered no events for the idleness timeout. */
  idle(partition: number): boolean {
    return this.now() - (this.lastActiveAt.get(partition) ?? this.now()) >= this.idlenessMs;
  }

  /** Min over active partitions; when all are idle, the max of them, so windows still fire. Never decreases. */
  get current(): number {
    let activeMin = Number.POSITIVE_INFINITY;
    let idleMax = Number.NEGATIVE_INFINITY;
    for (const [partition, wm] of this.watermarks) {
      if (this.idle(partition)) idleMax = Math.max(idleMax, wm.current);
      else activeMin = Math.min(activeMin, wm.current);
    }
    const computed = activeMin !== Number.POSITIVE_INFINITY ? activeMin : idleMax;
    if (computed > this.emitted) this.emitted = computed;
    return this.emitted;
  }
}
