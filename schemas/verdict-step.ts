/**
 * The address stage judges an address in steps of event time shorter than a minute, so that a
 * provisional view waits less for its verdict: a view in step s is decided once steps s … s +
 * COVER_STEPS have been judged, (COVER_STEPS + 1) steps after its step starts, plus the
 * out-of-orderness and a flush or two (README "Bots").
 */
export const VERDICT_STEP_MS = 30_000;

/**
 * A flag for step s covers the COVER_STEPS steps before it too (a minute): a farm's first views,
 * before its rate shows in a window, are bots as well.
 */
export const COVER_STEPS = 2;

/** The step index of an event time (ms). */
export function stepOf(ts: number): number {
  return Math.floor(ts / VERDICT_STEP_MS);
}

/** Verdict steps in a minute: state and verdicts written per minute, before there were steps, are read with it. */
const STEPS_PER_MINUTE = 60_000 / VERDICT_STEP_MS;

/** The first verdict step of a minute index (where judging was, in state written per minute). */
export function firstStepOfMinute(minute: number): number {
  return minute * STEPS_PER_MINUTE;
}

/** The last verdict step of a minute index: what a minute's aggregates or held views become in state written per minute. */
export function lastStepOfMinute(minute: number): number {
  return firstStepOfMinute(minute + 1) - 1;
}
