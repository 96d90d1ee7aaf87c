/** The rules that decide whether an event is a view and whether it repeats one. */
export interface ViewRules {
  /** A view needs at least this much watch time… */
  minWatchMs: number;
  /** …or at least this fraction of a shorter video's duration. */
  minWatchFraction: number;
  /** One counted view per (viewer key, video) within this event-time window. */
  sessionWindowMs: number;
  /** How long a seen event_id is remembered (event time). */
  eventIdHorizonMs: number;
  /** Memory budget of each dedup store (event ids, sessions), per partition, in bytes: it sets the entries each can hold (see dedup-store.ts). */
  dedupMemoryBytes: number;
}

/** Event-time semantics: watermarks, lateness, clock skew. */
export interface TimeRules {
  /** Watermark = max event time seen − this bound. */
  outOfOrdernessMs: number;
  /** A partition with no events for this long stops holding the job's watermark back. */
  idlenessMs: number;
  /** Events older than the partition watermark by more than this are `too_late`. */
  maxLatenessMs: number;
  /** Events stamped later than their Kafka arrival by more than this are `invalid`. */
  maxFutureSkewMs: number;
}

/** The watch threshold part of the view rules: what the view rule and the bot scorer's watch pattern share. */
export type WatchRules = Pick<ViewRules, 'minWatchMs' | 'minWatchFraction'>;

/** The minimum watch time that makes a view of a video of this duration (ms, null when unknown). */
export function requiredWatchMs(durationMs: number | null, rules: WatchRules): number {
  return durationMs === null ? rules.minWatchMs : Math.min(rules.minWatchMs, durationMs * rules.minWatchFraction);
}
