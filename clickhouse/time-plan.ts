/**
 * Which rollup rows answer a time range: pure arithmetic, no ClickHouse.
 *
 * Rows are UTC minutes, UTC hours and UTC days, each tier kept for its retention. A range is
 * answered from the coarsest rows that fit it exactly and still exist, snapping its ends
 * outwards only where the finer rows have expired; the snapped range is reported back.
 *
 * Days in the creator's zone: a day row is a UTC day, so a day bucket in another zone is
 * built from the 24 hour rows of that local day (exact for every zone with a whole-hour
 * offset; in zones with a :30/:45 offset the hour straddling midnight goes to the day it
 * starts in). Hour rows live 90 days by default, so the part of a range older than that is
 * answered from UTC day rows, each labelled with its UTC date. The seam is a UTC midnight, so
 * nothing is counted twice or lost: totals over the range agree with every other granularity;
 * only the buckets before the seam are UTC days, and the one local day at the seam is uneven.
 * Keeping a day table per zone would be exact, at one copy of the day tier per zone offered.
 */
import type { DateTime } from 'luxon';
import { IANAZone } from 'luxon';
import { retentionDays, type RetentionPolicy } from './retention.ts';

/** Bucket size of a series, and the rollup tier it reads. */
export type Granularity = 'minute' | 'hour' | 'day';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Ranges up to this long get minute buckets (when minute rows still cover them). */
export const MINUTE_BUCKETS_UP_TO_MS = 48 * HOUR_MS;
/** Ranges up to this long get hour buckets (when hour rows still cover them). */
export const HOUR_BUCKETS_UP_TO_MS = 90 * DAY_MS;

const floorTo = (t: number, unit: number) => Math.floor(t / unit) * unit;
const ceilTo = (t: number, unit: number) => Math.ceil(t / unit) * unit;

/** A half-open interval of ms since epoch. */
export type Interval = readonly [number, number];
/** A half-open interval of UTC dates, `YYYY-MM-DD`. */
export type DateInterval = readonly [string, string];

/** Earliest row time a tier certainly still holds at `nowMs`. */
export function keptSince(days: RetentionPolicy['minuteDays'], nowMs: number): number {
  const d = retentionDays(days);
  return d === Infinity ? -Infinity : nowMs - d * DAY_MS;
}

/** ≤ 48 h → minute, ≤ 90 days → hour, else day; a coarser one when the finer rows of `from` have expired. */
export function chooseGranularity(fromMs: number, toMs: number, nowMs: number, retention: RetentionPolicy): Granularity {
  const span = toMs - fromMs;
  if (span <= MINUTE_BUCKETS_UP_TO_MS && floorTo(fromMs, MINUTE_MS) >= keptSince(retention.minuteDays, nowMs)) return 'minute';
  if (span <= HOUR_BUCKETS_UP_TO_MS && floorTo(fromMs, HOUR_MS) >= keptSince(retention.hourDays, nowMs)) return 'hour';
  return 'day';
}

/** A range split by tier: minute rows at the ragged ends, hour rows around whole UTC days, day rows in between. */
export interface TierSegments {
  /** The range actually answered (the request snapped outwards where finer rows have expired). */
  fromMs: number;
  toMs: number;
  minute: [Interval, Interval];
  hour: [Interval, Interval];
  day: DateInterval;
}

/**
 * Splits [fromMs, toMs) so every part is read from the coarsest rows that cover it exactly:
 * the fewest rows for totals, breakdowns and unique viewers over any range.
 */
export function planTiers(fromMs: number, toMs: number, nowMs: number, retention: RetentionPolicy): TierSegments {
  const minuteKept = keptSince(retention.minuteDays, nowMs);
  const hourKept = keptSince(retention.hourDays, nowMs);
  let F = floorTo(fromMs, MINUTE_MS);
  if (F % HOUR_MS !== 0 && F < minuteKept) F = floorTo(fromMs, HOUR_MS);
  if (F % DAY_MS !== 0 && F < hourKept) F = floorTo(fromMs, DAY_MS);
  let T = ceilTo(toMs, MINUTE_MS);
  if (T % HOUR_MS !== 0 && floorTo(T, HOUR_MS) < minuteKept) T = ceilTo(toMs, HOUR_MS);
  if (T % DAY_MS !== 0 && floorTo(T, DAY_MS) < hourKept) T = ceilTo(toMs, DAY_MS);
  const a = Math.min(ceilTo(F, HOUR_MS), T); // minute head [F, a)
  const b = Math.max(a, floorTo(T, HOUR_MS)); // minute tail [b, T)
  const c = Math.min(ceilTo(a, DAY_MS), b); // hour head [a, c)
  const d = Math.max(c, floorTo(b, DAY_MS)); // hour tail [d, b); days [c, d)
  return {
    fromMs: F,
    toMs: T,
    minute: [[F, a], [b, T]],
    hour: [[a, c], [d, b]],
    day: [isoDate(c), isoDate(d)],
  };
}

/** Where the buckets of a series come from. */
export interface SeriesPlan {
  granularity: Granularity;
  /** Start of the first bucket and end of the last, ms since epoch. */
  fromMs: number;
  toMs: number;
  /** Minute or hour granularity: rows of that tier in this interval, one bucket per row time. */
  rows?: Interval;
  /** Day granularity: UTC day rows for these dates, each labelled with its date… */
  dayRows?: DateInterval;
  /** …and hour rows in this interval, grouped by their date in the zone. */
  hourRows?: Interval;
  /** Set when some day buckets are UTC days: every bucket before this date. */
  utcDaysBefore?: string;
}

/** Whether `tz` is UTC at every instant of the range (sampled weekly: offsets change at most twice a year). */
export function isUtcThroughout(tz: string, fromMs: number, toMs: number): boolean {
  const zone = IANAZone.create(tz);
  for (let t = fromMs; ; t += 7 * DAY_MS) {
    if (zone.offset(Math.min(t, toMs)) !== 0) return false;
    if (t >= toMs) return true;
  }
}

/** Buckets of a series over [from, to) in the zone of `from`, and the rows that fill them. */
export function planSeries(from: DateTime, to: DateTime, nowMs: number, retention: RetentionPolicy): SeriesPlan {
  const granularity = chooseGranularity(from.toMillis(), to.toMillis(), nowMs, retention);
  if (granularity !== 'day') {
    const unit = granularity === 'minute' ? MINUTE_MS : HOUR_MS;
    const F = floorTo(from.toMillis(), unit);
    const T = ceilTo(to.toMillis(), unit);
    return { granularity, fromMs: F, toMs: T, rows: [F, T] };
  }
  const tz = from.zoneName ?? 'UTC';
  const startDay = from.startOf('day');
  const endDay = to.equals(to.startOf('day')) ? to : to.startOf('day').plus({ days: 1 });
  const F = startDay.toMillis();
  const T = endDay.toMillis();
  const fromDate = startDay.toISODate()!;
  const toDate = endDay.toISODate()!;
  const none: Interval = [T, T];
  if (isUtcThroughout(tz, F, T)) return { granularity, fromMs: F, toMs: T, dayRows: [fromDate, toDate], hourRows: none };
  const hourKept = keptSince(retention.hourDays, nowMs);
  if (F >= hourKept) return { granularity, fromMs: F, toMs: T, dayRows: [toDate, toDate], hourRows: [F, T] };
  // The seam: the first UTC midnight from which hour rows certainly exist.
  const seamMs = ceilTo(hourKept, DAY_MS);
  const seamDate = isoDate(seamMs);
  if (seamDate >= toDate) return { granularity, fromMs: F, toMs: T, dayRows: [fromDate, toDate], hourRows: none, utcDaysBefore: toDate };
  return { granularity, fromMs: F, toMs: T, dayRows: [fromDate, seamDate], hourRows: [seamMs, T], utcDaysBefore: seamDate };
}

/** Start of every bucket of a plan, ms since epoch, in order. */
export function bucketStarts(plan: SeriesPlan, from: DateTime): number[] {
  const out: number[] = [];
  if (plan.granularity === 'day') {
    for (let d = from.startOf('day'); d.toMillis() < plan.toMs; d = d.plus({ days: 1 })) out.push(d.toMillis());
    return out;
  }
  const unit = plan.granularity === 'minute' ? MINUTE_MS : HOUR_MS;
  for (let t = plan.fromMs; t < plan.toMs; t += unit) out.push(t);
  return out;
}

/** The UTC date of an instant, `YYYY-MM-DD`. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
