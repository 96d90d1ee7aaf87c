/**
 * Creator-dashboard queries over the rollups. Each function validates its input (throwing
 * {@link InvalidQueryError}, which the read API maps to 400), runs one query whose SQL text is
 * fixed apart from constant filter clauses, and binds every user value as a parameter; the
 * only identifier that varies (a breakdown's column) comes from {@link BREAKDOWN_COLUMNS}.
 *
 * Which rows answer a range is decided in time-plan.ts: the coarsest tier that fits the range
 * exactly and still holds it, so a server should pass the tables' real retention
 * (`readRetention(client)` once at start) in {@link QueryContext}. Unique viewers are merged
 * uniqCombined(15) states: exact for small sets, ≈0.6 % relative error at scale, never summed.
 */
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import { DateTime } from 'luxon';
import { DEFAULT_RETENTION, type RetentionPolicy } from './retention.ts';
import { InvalidQueryError } from './query-errors.ts';
import { filterClause, MAX_LIMIT, parseCount, parseFilters, parseInstant, parseRange, parseZone, type DimensionFilters, type RangeInput, type TimeInput } from './query-params.ts';
import { bucketStarts, DAY_MS, MINUTE_MS, planSeries, planTiers, type Granularity } from './time-plan.ts';

/** What every query may be told about the world: the clock, and the retention the tables have. */
export interface QueryContext {
  /** Now, for retention and trending windows; default the system clock. */
  now?: Date | number;
  /** Retention of the tiers (see `readRetention`); default the design's. */
  retention?: RetentionPolicy;
}

/** One bucket of a series; `t` is the bucket start, ISO-8601 in the request's zone. */
export interface SeriesPoint {
  t: string;
  views: number;
  unique_viewers: number;
}

/** Views over time, every bucket present (zeros included). */
export interface ViewsOverTime {
  granularity: Granularity;
  tz: string;
  points: SeriesPoint[];
  /** Day buckets before this date are UTC days (older than the hour rows; see time-plan.ts). */
  utcDaysBefore?: string;
  /** Buckets from this instant on are not written yet (the job writes a minute once its watermark passes it): not zeros. */
  pendingFrom?: string;
}

/** Views and unique viewers over a range, and the range actually answered. */
export interface Totals {
  from: string;
  to: string;
  views: number;
  unique_viewers: number;
}

/** Dimensions a breakdown may group by; the value is the column, so no identifier ever comes from a request. */
export const BREAKDOWN_COLUMNS = {
  country: 'country',
  device: 'device',
  traffic_source: 'traffic_source',
  category: 'category',
  video_id: 'video_id',
} as const;
/** A dimension a breakdown may group by. */
export type BreakdownDimension = keyof typeof BREAKDOWN_COLUMNS;

/** Views and unique viewers of one value of the breakdown dimension. */
export interface BreakdownRow {
  value: string;
  views: number;
  unique_viewers: number;
}

/** A video's views in the trending window, and per minute of it. */
export interface TrendingVideo {
  video_id: string;
  channel_id: string;
  views: number;
  views_per_minute: number;
}

/** One bot-rejected event; `ts` is ISO-8601 in the request's zone. */
export interface RejectedView {
  ts: string;
  video_id: string;
  event_id: string;
  score: number;
  reasons: string[];
  ip_prefix: string;
  user_agent: string;
}

const UTC = `DateTime('UTC')`;
const num = (v: string | number) => Number(v);
const nowMs = (ctx: QueryContext) => (ctx.now === undefined ? Date.now() : typeof ctx.now === 'number' ? ctx.now : ctx.now.getTime());
const sqlTime = (ms: number) => new Date(ms);

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  try {
    return await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  } catch (err) {
    // luxon and ClickHouse read different tz databases; a zone only luxon knows is still a bad request.
    if (err instanceof ClickHouseError && /time ?zone/i.test(err.message)) throw new InvalidQueryError('tz', err.message);
    throw err;
  }
}

/**
 * Aggregates of all three tiers covering a range exactly (see planTiers), with the filters
 * applied: per branch `v` (views) and `uv` (a merged unique-viewer state), grouped by `value`
 * when a key column is given. Each branch aggregates by itself, with the same aggregate
 * functions as the `by_video` and `by_channel` projections (migration 0004), so that
 * ClickHouse can read those instead of the rows when the key and filters allow it.
 */
function tieredSource(keyColumn: string | null, filters: DimensionFilters, from: DateTime, to: DateTime, ctx: QueryContext) {
  const plan = planTiers(from.toMillis(), to.toMillis(), nowMs(ctx), ctx.retention ?? DEFAULT_RETENTION);
  const f = filterClause(filters);
  const select = `SELECT ${keyColumn === null ? '' : `${keyColumn} AS value, `}sum(views) AS v, uniqCombinedMergeState(15)(unique_viewers) AS uv`;
  const groupBy = keyColumn === null ? '' : ' GROUP BY value';
  const sql = `
    ${select} FROM views_minute
    WHERE ((minute >= {m0:${UTC}} AND minute < {m1:${UTC}}) OR (minute >= {m2:${UTC}} AND minute < {m3:${UTC}}))${f.sql}${groupBy}
    UNION ALL
    ${select} FROM views_hour
    WHERE ((hour >= {h0:${UTC}} AND hour < {h1:${UTC}}) OR (hour >= {h2:${UTC}} AND hour < {h3:${UTC}}))${f.sql}${groupBy}
    UNION ALL
    ${select} FROM views_day
    WHERE day >= {d0:Date} AND day < {d1:Date}${f.sql}${groupBy}`;
  const params = {
    ...f.params,
    m0: sqlTime(plan.minute[0][0]), m1: sqlTime(plan.minute[0][1]), m2: sqlTime(plan.minute[1][0]), m3: sqlTime(plan.minute[1][1]),
    h0: sqlTime(plan.hour[0][0]), h1: sqlTime(plan.hour[0][1]), h2: sqlTime(plan.hour[1][0]), h3: sqlTime(plan.hour[1][1]),
    d0: plan.day[0], d1: plan.day[1],
  };
  return { sql, params, fromMs: plan.fromMs, toMs: plan.toMs };
}

const iso = (ms: number, tz: string) => DateTime.fromMillis(ms, { zone: tz }).toISO({ suppressMilliseconds: true })!;

/**
 * Views and unique viewers per bucket: minute buckets up to 48 h, hour buckets up to 90 days,
 * day buckets (days of the creator's zone) beyond, or coarser where finer rows have expired.
 */
export async function viewsOverTime(client: ClickHouseClient, input: RangeInput, ctx: QueryContext = {}): Promise<ViewsOverTime> {
  const { from, to, tz } = parseRange(input);
  const f = filterClause(parseFilters(input));
  const plan = planSeries(from, to, nowMs(ctx), ctx.retention ?? DEFAULT_RETENTION);
  const byBucket = new Map<number, { views: string; unique_viewers: string }>();
  if (plan.granularity === 'day') {
    // Branches aggregate by themselves (see tieredSource) so the projections of 0004 can serve them.
    const query = `
      SELECT toString(d) AS bucket, sum(v) AS views, uniqCombinedMerge(15)(uv) AS unique_viewers FROM (
        SELECT day AS d, sum(views) AS v, uniqCombinedMergeState(15)(unique_viewers) AS uv FROM views_day
        WHERE day >= {d0:Date} AND day < {d1:Date}${f.sql} GROUP BY d
        UNION ALL
        SELECT toDate(hour, {tz:String}) AS d, sum(views) AS v, uniqCombinedMergeState(15)(unique_viewers) AS uv FROM views_hour
        WHERE hour >= {h0:${UTC}} AND hour < {h1:${UTC}}${f.sql} GROUP BY d
      ) GROUP BY d ORDER BY d`;
    const result = await rows<{ bucket: string; views: string; unique_viewers: string }>(client, query, {
      ...f.params, tz, d0: plan.dayRows![0], d1: plan.dayRows![1], h0: sqlTime(plan.hourRows![0]), h1: sqlTime(plan.hourRows![1]),
    });
    for (const r of result) byBucket.set(DateTime.fromISO(r.bucket, { zone: tz }).toMillis(), r);
  } else {
    const [table, column] = plan.granularity === 'minute' ? ['views_minute', 'minute'] : ['views_hour', 'hour'];
    const query = `
      SELECT toUnixTimestamp(${column}) AS bucket, sum(views) AS v, finalizeAggregation(uniqCombinedMergeState(15)(unique_viewers)) AS uv
      FROM ${table} WHERE ${column} >= {t0:${UTC}} AND ${column} < {t1:${UTC}}${f.sql}
      GROUP BY ${column} ORDER BY ${column}`;
    const result = await rows<{ bucket: number; v: string; uv: string }>(client, query, { ...f.params, t0: sqlTime(plan.rows![0]), t1: sqlTime(plan.rows![1]) });
    for (const r of result) byBucket.set(r.bucket * 1000, { views: r.v, unique_viewers: r.uv });
  }
  const points = bucketStarts(plan, from).map((t) => {
    const r = byBucket.get(t);
    return { t: iso(t, tz), views: r ? num(r.views) : 0, unique_viewers: r ? num(r.unique_viewers) : 0 };
  });
  const until = await writtenUntil(client);
  return {
    granularity: plan.granularity,
    tz,
    points,
    ...(plan.utcDaysBefore === undefined ? {} : { utcDaysBefore: plan.utcDaysBefore }),
    ...(until !== null && until < to.toMillis() ? { pendingFrom: iso(until, tz) } : {}),
  };
}

/** The end of the newest minute the job has written (all videos), or null before its first. */
async function writtenUntil(client: ClickHouseClient): Promise<number | null> {
  // max of the partition key column: ClickHouse answers it from part metadata, not from the rows.
  const [r] = await rows<{ m: number }>(client, 'SELECT toUnixTimestamp(max(minute)) AS m FROM views_minute', {});
  return r && r.m > 0 ? r.m * 1000 + MINUTE_MS : null;
}

/** Views and unique viewers over the whole range (unique viewers merged across every bucket, not summed). */
export async function totals(client: ClickHouseClient, input: RangeInput, ctx: QueryContext = {}): Promise<Totals> {
  const { from, to, tz } = parseRange(input);
  const src = tieredSource(null, parseFilters(input), from, to, ctx);
  const [r] = await rows<{ views: string; unique_viewers: string }>(
    client,
    `SELECT sum(v) AS views, uniqCombinedMerge(15)(uv) AS unique_viewers FROM (${src.sql})`,
    src.params,
  );
  return { from: iso(src.fromMs, tz), to: iso(src.toMs, tz), views: num(r?.views ?? 0), unique_viewers: num(r?.unique_viewers ?? 0) };
}

/** Whether any event of the video was ever written, counted or not (outcome rows have no TTL). */
export async function videoSeen(client: ClickHouseClient, videoId: string): Promise<boolean> {
  return (await rows(client, 'SELECT 1 AS seen FROM view_outcomes_minute WHERE video_id = {videoId:String} LIMIT 1', { videoId })).length > 0;
}

/** Unique viewers over the range, merged from the unique-viewer states (≈0.6 % error at scale). */
export async function uniqueViewers(client: ClickHouseClient, input: RangeInput, ctx: QueryContext = {}): Promise<number> {
  return (await totals(client, input, ctx)).unique_viewers;
}

/** Views and unique viewers per value of one dimension, most viewed first. */
export async function breakdown(
  client: ClickHouseClient,
  input: RangeInput & { dimension: BreakdownDimension; limit?: number },
  ctx: QueryContext = {},
): Promise<BreakdownRow[]> {
  const { from, to } = parseRange(input);
  if (!Object.hasOwn(BREAKDOWN_COLUMNS, input.dimension)) {
    throw new InvalidQueryError('dimension', `expected one of ${Object.keys(BREAKDOWN_COLUMNS).join(', ')}, got ${JSON.stringify(String(input.dimension)).slice(0, 80)}`);
  }
  const column = BREAKDOWN_COLUMNS[input.dimension];
  const limit = parseCount('limit', input.limit, MAX_LIMIT, 100);
  const src = tieredSource(column, parseFilters(input), from, to, ctx);
  const result = await rows<{ value: string; views: string; unique_viewers: string }>(
    client,
    `SELECT value, sum(v) AS views, uniqCombinedMerge(15)(uv) AS unique_viewers FROM (${src.sql})
     GROUP BY value ORDER BY views DESC, value LIMIT {limit:UInt32}`,
    { ...src.params, limit },
  );
  return result.map((r) => ({ value: r.value, views: num(r.views), unique_viewers: num(r.unique_viewers) }));
}

/** Videos with the most views in the last `windowMinutes` minutes (the current minute included), from minute rows. */
export async function trending(
  client: ClickHouseClient,
  input: DimensionFilters & { windowMinutes?: number; limit?: number },
  ctx: QueryContext = {},
): Promise<TrendingVideo[]> {
  const windowMinutes = parseCount('windowMinutes', input.windowMinutes, 24 * 60, 60);
  const limit = parseCount('limit', input.limit, MAX_LIMIT, 20);
  const f = filterClause(parseFilters(input));
  const until = Math.floor(nowMs(ctx) / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  // `channel`, not `channel_id`: an alias shadows the column of the same name, also in WHERE.
  const result = await rows<{ video_id: string; channel: string; views: string }>(
    client,
    `SELECT video_id, any(channel_id) AS channel, sum(views) AS views FROM views_minute
     WHERE minute >= {since:${UTC}} AND minute < {until:${UTC}}${f.sql}
     GROUP BY video_id ORDER BY views DESC, video_id LIMIT {limit:UInt32}`,
    { ...f.params, since: sqlTime(until - windowMinutes * MINUTE_MS), until: sqlTime(until), limit },
  );
  return result.map((r) => ({ video_id: r.video_id, channel_id: r.channel, views: num(r.views), views_per_minute: num(r.views) / windowMinutes }));
}

/** Events per outcome of one video over a range: explains raw events against counted views. */
export async function outcomeCounts(
  client: ClickHouseClient,
  input: { videoId: string; from: TimeInput; to: TimeInput; tz?: string },
): Promise<Record<string, number>> {
  const { from, to } = parseRange(input);
  const { videoId } = parseFilters({ videoId: input.videoId });
  if (videoId === undefined) throw new InvalidQueryError('videoId', 'required');
  const result = await rows<{ outcome: string; events: string }>(
    client,
    `SELECT outcome, sum(events) AS events FROM view_outcomes_minute
     WHERE video_id = {videoId:String} AND minute >= {from:${UTC}} AND minute < {to:${UTC}}
     GROUP BY outcome ORDER BY outcome`,
    { videoId, from: sqlTime(Math.floor(from.toMillis() / MINUTE_MS) * MINUTE_MS), to: sqlTime(Math.ceil(to.toMillis() / MINUTE_MS) * MINUTE_MS) },
  );
  return Object.fromEntries(result.map((r) => [r.outcome, num(r.events)]));
}

/** The latest bot-rejected events, newest first, optionally of one video; by default of the last 7 days. */
export async function recentRejected(
  client: ClickHouseClient,
  input: { videoId?: string; limit?: number; since?: TimeInput; tz?: string },
  ctx: QueryContext = {},
): Promise<RejectedView[]> {
  const tz = parseZone(input.tz);
  const limit = parseCount('limit', input.limit, MAX_LIMIT, 50);
  const since = input.since === undefined ? nowMs(ctx) - 7 * DAY_MS : parseInstant('since', input.since, tz).toMillis();
  const { videoId } = parseFilters({ videoId: input.videoId });
  const result = await rows<Omit<RejectedView, 'ts'> & { ts_ms: string }>(
    client,
    `SELECT toUnixTimestamp64Milli(ts) AS ts_ms, video_id, event_id, score, reasons, ip_prefix, user_agent FROM rejected_views
     WHERE ts >= {since:DateTime64(3, 'UTC')}${videoId === undefined ? '' : ' AND video_id = {videoId:String}'}
     ORDER BY ts DESC, event_id LIMIT {limit:UInt32}`,
    { since: sqlTime(since), limit, ...(videoId === undefined ? {} : { videoId }) },
  );
  return result.map(({ ts_ms, ...r }) => ({ ...r, ts: iso(num(ts_ms), tz) }));
}
