import { DEFAULT_BOT_RULES_PATH } from '../operators/bot-rules-source.ts';
import type { TimeRules, ViewRules } from '../operators/view-rules.ts';

export type { TimeRules, ViewRules };

/** Everything the job needs to run; defaults come from {@link defaultJobConfig}. */
export interface JobConfig {
  brokers: string[];
  topic: string;
  group: string;
  /** `http://host:port` or `embedded:<dir>`. */
  clickhouse: string;
  redis: string;
  /** Path of the bot rules file the job reloads on change. */
  botRulesPath: string;
  /** Live counters are written at least this often. */
  flushIntervalMs: number;
  /** Fired windows go to ClickHouse, and state is checkpointed, this often. */
  checkpointIntervalMs: number;
  /** Consumption pauses, per worker thread, while this many events are processed and not yet written to ClickHouse. */
  maxPendingEvents: number;
  /** A worker that stops heartbeating for this long loses its partitions to the others. */
  sessionTimeoutMs: number;
  /** Partition count used when the job creates the topic. */
  partitions: number;
  /**
   * Secret 128-bit seed (32 hex digits) of the fingerprints every key of the state is stored
   * under; must stay the same for as long as checkpoints are kept (`VT_STATE_SEED`).
   */
  stateSeed: string;
  view: ViewRules;
  time: TimeRules;
}

const MINUTE = 60_000;

/**
 * How long a stopping job has to flush, checkpoint and leave the group before it exits with 1
 * anyway (Kubernetes' default grace period): an answerless broker or sink must not hold it.
 */
export const STOP_GRACE_MS = 30_000;

/**
 * How long, of that grace, a stopping job waits for its final checkpoint (with the flush round
 * under way when it was asked to stop): a sink that answers slowly must not use up the time to
 * leave the group. A checkpoint cut short is one a crash would have cut, and as exact.
 */
export const STOP_CHECKPOINT_MS = 10_000;

/**
 * How long the address stage's consumer and the verdict feed wait on the broker when there is
 * nothing to read. A fetch returns as soon as a record arrives, so this costs no latency; a short
 * one costs an idle job CPU (at 100 ms, idle `run` took 17.7–19.4 % of a core; at 1 000 ms, 13.4 %;
 * both before the kafkajs request-queue patch, after which an idle `run` takes 3.5 %).
 */
export const IDLE_POLL_MS = 1_000;

/** The seed of the local default setup; a deployment sets its own secret. */
export const LOCAL_STATE_SEED = '7669657774616c6c792d6c6f63616c21';

/** The job's defaults, pointing at the local infra. */
export function defaultJobConfig(): JobConfig {
  return {
    brokers: ['127.0.0.1:19092'],
    topic: 'view-events',
    group: 'viewtally',
    clickhouse: 'http://127.0.0.1:18123',
    redis: 'redis://127.0.0.1:16379',
    botRulesPath: DEFAULT_BOT_RULES_PATH,
    flushIntervalMs: 250,
    checkpointIntervalMs: 5_000,
    maxPendingEvents: 2_000_000,
    sessionTimeoutMs: 30_000,
    partitions: 4,
    stateSeed: LOCAL_STATE_SEED,
    view: {
      minWatchMs: 30_000,
      minWatchFraction: 0.5,
      sessionWindowMs: 30 * MINUTE,
      eventIdHorizonMs: 24 * 60 * MINUTE,
      // 2 097 152 entries per store per partition, 40 B each (entriesForBudget)
      dedupMemoryBytes: 80 * 2 ** 20,
    },
    time: {
      outOfOrdernessMs: 5_000,
      idlenessMs: 10_000,
      maxLatenessMs: 7 * 24 * 60 * MINUTE,
      maxFutureSkewMs: 5 * MINUTE,
    },
  };
}
