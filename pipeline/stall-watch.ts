import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';

/** Checkpoint intervals a partition with lag may go without advancing before it counts as stalled. */
export const STALL_CHECKPOINTS = 6;

/** Options of {@link StallWatch}. */
export interface StallWatchOptions {
  /** Stalled after this many checkpoint intervals without advancing while events wait. */
  checkpoints: number;
  checkpointIntervalMs: number;
  now: () => number;
  /** The checkpoint offset of each partition assigned to this worker; null while it is not claimed. */
  positions: () => Map<number, number | null>;
  /** The end offset of each partition of the topic, from the broker. */
  ends: () => Promise<Map<number, number>>;
  log: Logger;
}

/**
 * Tells which assigned partitions are stalled: their checkpoint has not moved (or they have not been
 * claimed) for N checkpoint intervals although the partition holds events past it. It samples on its own timer, so a
 * partition held by a sink that retries forever is seen even while the job's loop waits on it.
 */
export class StallWatch {
  // configuration
  private readonly options: StallWatchOptions;
  // state (not checkpointed): since when each partition has been at its checkpoint offset with lag
  private readonly since = new Map<number, { offset: number; at: number; stalled: boolean }>();
  private ends = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: StallWatchOptions) {
    this.options = options;
  }

  /** Samples every checkpoint interval until {@link close}; one broker call at a time, however slow it answers. */
  start(): this {
    const next = () => {
      this.timer = setTimeout(() => void this.refresh().then(() => this.timer && next()), this.options.checkpointIntervalMs);
      this.timer.unref();
    };
    next();
    return this;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Fetches the partitions' ends, then samples; a broker that does not answer leaves the last ends in place. */
  async refresh(): Promise<void> {
    try {
      this.ends = await this.options.ends();
    } catch {
      // the watch goes on with the ends it had: lag can only be older, never invented
    }
    this.stalled();
  }

  /** A partition's end offset as last sampled (undefined before the first answer). */
  endOf(partition: number): number | undefined {
    return this.ends.get(partition);
  }

  /** Per assigned partition, whether it is stalled, as of now. */
  stalled(): Map<number, boolean> {
    const { checkpoints, checkpointIntervalMs, now, positions, log } = this.options;
    const at = now();
    const owned = positions();
    for (const p of this.since.keys()) if (!owned.has(p)) this.since.delete(p);
    const result = new Map<number, boolean>();
    for (const [p, known] of owned) {
      const end = this.ends.get(p);
      let s = this.since.get(p);
      // A partition not claimed (yet, or again) stays where it was: that is not advancing either.
      const offset = known ?? s?.offset ?? 0;
      if (s === undefined || s.offset !== offset || end === undefined || end <= offset) {
        if (s?.stalled) log.info({ partition: p, offset }, 'partition advances again');
        s = { offset, at, stalled: false };
        this.since.set(p, s);
      }
      const stalled = at - s.at >= checkpoints * checkpointIntervalMs;
      if (stalled && !s.stalled) {
        log.error({ partition: p, offset, lag: end! - offset, stalledMs: at - s.at }, 'partition stalled: its checkpoint has not advanced while events wait; /readyz fails until it does');
      }
      s.stalled = stalled;
      result.set(p, stalled);
    }
    return result;
  }

  /** Whether any assigned partition is stalled. */
  any(): boolean {
    for (const stalled of this.stalled().values()) if (stalled) return true;
    return false;
  }
}

/**
 * The end offsets of a topic's partitions, read through an admin client of its own: kafkajs admin
 * calls that run at once on one client (the job's, for claims and drain checks) can fail together.
 */
export function topicEnds(kafka: Kafka, topic: string): { fetch: () => Promise<Map<number, number>>; close: () => Promise<void> } {
  const admin = kafka.admin();
  let connected: Promise<void> | null = null;
  return {
    fetch: async () => {
      connected ??= admin.connect().catch((err: Error) => {
        connected = null;
        throw err;
      });
      await connected;
      return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    },
    close: () => admin.disconnect(),
  };
}
