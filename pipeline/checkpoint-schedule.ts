/** (√5 − 1) / 2: its multiples, modulo 1, spread evenly over [0, 1) however many are taken. */
const GOLDEN_RATIO_FRACTION = 0.6180339887498949;

/**
 * When each writer (a partition's task, the address stage) checkpoints. Each keeps a phase of its
 * own in the interval — its rank (partition + 1; 0 for the address stage) times the golden ratio —
 * instead of all counting from the same claim, so their checkpoints, and the megabytes each writes
 * to Redis and ClickHouse, come one after the other rather than all at once. A writer keeps its
 * phase: a checkpoint that took long skips the slots it missed instead of shifting the next ones.
 */
export class CheckpointSchedule<W extends object> {
  // weak: a dropped task's entry goes with it
  private readonly next = new WeakMap<W, number>();

  constructor(private readonly intervalMs: number) {}

  /** Whether `writer`'s checkpoint is due at `t` (when it is, the next one is a slot later); its first is within an interval of its first call. */
  due(writer: W, rank: number, t: number): boolean {
    let next = this.next.get(writer);
    if (next === undefined) {
      next = t + (1 - ((rank * GOLDEN_RATIO_FRACTION) % 1)) * this.intervalMs;
      this.next.set(writer, next);
    }
    if (t < next) return false;
    this.next.set(writer, next + Math.floor((t - next) / this.intervalMs + 1) * this.intervalMs);
    return true;
  }
}
