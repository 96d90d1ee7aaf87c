/**
 * Cold export of a rollup tier to Parquet, written by ClickHouse itself
 * (`INSERT INTO FUNCTION file(…)` or `s3(…)`), one file per table partition:
 *
 *   views_minute_2026-01-15.parquet   (minute rows, one file per UTC day)
 *   views_hour_2026-01.parquet        (hour rows, one file per UTC month)
 *   views_day_2026-01.parquet         (day rows, one file per UTC month)
 *
 * Each row is a merged rollup row (`FINAL`): the time bucket, the dimensions, `views`,
 * `unique_viewers` as a number, and `unique_viewers_state`, the uniqCombined(15) state in
 * base64, so exported ranges can be merged again:
 *
 *   SELECT sum(views), uniqCombinedMerge(15)(CAST(base64Decode(unique_viewers_state),
 *          'AggregateFunction(uniqCombined(15), String)')) FROM file('/dir/*.parquet', Parquet)
 *
 * A period cut by the range holds only the rows in the range; exporting it again overwrites
 * the file. `toDir` is a path on the machine ClickHouse runs on (the local server or embedded
 * chDB: this machine); for a remote server use `toUrl` (s3://bucket/prefix or an https S3
 * URL), written through ClickHouse's `s3` table function with the credentials given or, without
 * them, the server's own (`use_environment_credentials`).
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { DateTime } from 'luxon';
import { InvalidQueryError } from './query-errors.ts';
import { parseRange, type TimeInput } from './query-params.ts';
import type { Granularity } from './time-plan.ts';

/** What to export and where; exactly one of `toDir` and `toUrl`. */
export interface ExportOptions {
  granularity: Granularity;
  /** Range of row times [from, to); text without an offset is UTC. */
  from: TimeInput;
  to: TimeInput;
  /** A directory on the ClickHouse machine; created if missing. */
  toDir?: string;
  /** An S3 prefix (`s3://bucket/path` or `https://…`); files are written below it. */
  toUrl?: string;
  /** S3 credentials; absent → the server's own. */
  s3?: { accessKeyId: string; secretAccessKey: string };
  /** Called after each file. */
  onProgress?: (p: ExportProgress) => void;
}

/** One Parquet file written, with what it holds (read back from the file itself). */
export interface ExportedFile {
  /** Absolute path or URL. */
  location: string;
  /** The UTC day (minute rows) or month (hour and day rows) the file holds. */
  period: string;
  rows: number;
  views: number;
}

/** Progress after each file: `done` of `total` periods. */
export interface ExportProgress {
  file: ExportedFile;
  done: number;
  total: number;
}

/** Everything one export wrote. */
export interface ExportSummary {
  granularity: Granularity;
  table: string;
  from: string;
  to: string;
  files: ExportedFile[];
  rows: number;
  views: number;
}

const TIERS = {
  minute: { table: 'views_minute', column: 'minute', type: `DateTime('UTC')`, period: 'day' },
  hour: { table: 'views_hour', column: 'hour', type: `DateTime('UTC')`, period: 'month' },
  day: { table: 'views_day', column: 'day', type: 'Date', period: 'month' },
} as const;

/** Longest range one export takes: 40 years. */
export const MAX_EXPORT_DAYS = 14_610;

const DIMENSIONS = 'video_id, channel_id, category, country, device, traffic_source';

/** Exports [from, to) of one rollup tier as Parquet, one file per partition; returns what was written. */
export async function exportRollup(client: ClickHouseClient, opts: ExportOptions): Promise<ExportSummary> {
  if (!Object.hasOwn(TIERS, opts.granularity)) throw new InvalidQueryError('granularity', `expected minute, hour or day, got ${JSON.stringify(String(opts.granularity))}`);
  const tier = TIERS[opts.granularity];
  const { from, to } = parseRange({ from: opts.from, to: opts.to, tz: 'UTC' }, MAX_EXPORT_DAYS);
  if ((opts.toDir === undefined) === (opts.toUrl === undefined)) throw new InvalidQueryError('toDir', 'give exactly one of toDir and toUrl');
  const target = opts.toDir !== undefined ? dirTarget(opts.toDir) : urlTarget(opts.toUrl!, opts.s3);

  const periods = splitPeriods(from, to, tier.period);
  const files: ExportedFile[] = [];
  for (const [i, p] of periods.entries()) {
    const bounds = { lo: sqlBound(p.from, opts.granularity), hi: sqlBound(p.to, opts.granularity) };
    const range = `${tier.column} >= {lo:${tier.type}} AND ${tier.column} < {hi:${tier.type}}`;
    const [count] = await (
      await client.query({ query: `SELECT count() AS n FROM ${tier.table} WHERE ${range}`, query_params: bounds, format: 'JSONEachRow' })
    ).json<{ n: string }>();
    if (Number(count?.n ?? 0) === 0) continue;
    const name = `${tier.table}_${p.label}.parquet`;
    const out = target.open(name);
    try {
      await client.command({
        // The state is renamed inside so that the outer alias `unique_viewers` (the number) cannot shadow it.
        query: `INSERT INTO FUNCTION ${out.fn}
          SELECT ${tier.column}, ${DIMENSIONS}, views, finalizeAggregation(state) AS unique_viewers,
                 base64Encode(CAST(state, 'String')) AS unique_viewers_state
          FROM (
            SELECT ${tier.column}, ${DIMENSIONS}, views, unique_viewers AS state FROM ${tier.table} FINAL WHERE ${range}
            ORDER BY channel_id, video_id, ${tier.column}, country, device, traffic_source, category
          )`,
        query_params: { ...bounds, ...out.params },
        clickhouse_settings: { engine_file_truncate_on_insert: 1, s3_truncate_on_insert: 1, output_format_parquet_compression_method: 'zstd' },
      });
      const [written] = await (
        await client.query({ query: `SELECT count() AS rows, sum(views) AS views FROM ${out.readFn}`, query_params: out.params, format: 'JSONEachRow' })
      ).json<{ rows: string; views: string }>();
      out.commit();
      const file = { location: out.location, period: p.label, rows: Number(written.rows), views: Number(written.views) };
      files.push(file);
      opts.onProgress?.({ file, done: i + 1, total: periods.length });
    } catch (err) {
      out.abandon();
      throw err;
    }
  }
  return {
    granularity: opts.granularity,
    table: tier.table,
    from: from.toISO()!,
    to: to.toISO()!,
    files,
    rows: files.reduce((s, f) => s + f.rows, 0),
    views: files.reduce((s, f) => s + f.views, 0),
  };
}

interface OpenFile {
  /** Table function to write (and to read back), its bound parameters, and where it ends up. */
  fn: string;
  readFn: string;
  params: Record<string, string>;
  location: string;
  commit(): void;
  abandon(): void;
}

// Written under a hidden name and renamed when complete, so a reader of `*.parquet` never sees half a file.
function dirTarget(dir: string): { open(name: string): OpenFile } {
  if (dir.length === 0) throw new InvalidQueryError('toDir', 'must not be empty');
  const abs = isAbsolute(dir) ? dir : resolve(dir);
  mkdirSync(abs, { recursive: true });
  return {
    open(name) {
      const partial = join(abs, `.${name}.partial`);
      const final = join(abs, name);
      return {
        fn: `file({path:String}, 'Parquet')`,
        readFn: `file({path:String}, 'Parquet')`,
        params: { path: partial },
        location: final,
        commit: () => renameSync(partial, final),
        abandon: () => rmSync(partial, { force: true }),
      };
    },
  };
}

function urlTarget(url: string, s3: ExportOptions['s3']): { open(name: string): OpenFile } {
  if (!/^(s3|https?):\/\/[^\s]+$/.test(url)) throw new InvalidQueryError('toUrl', `expected s3://bucket/prefix or an https URL, got ${JSON.stringify(url.slice(0, 200))}`);
  // ClickHouse's s3 function takes s3://bucket/key itself.
  const base = url.replace(/\/+$/, '');
  const creds = s3 ? `, {key:String}, {secret:String}` : '';
  const credParams: Record<string, string> = s3 ? { key: s3.accessKeyId, secret: s3.secretAccessKey } : {};
  return {
    open(name) {
      const fn = `s3({url:String}${creds}, 'Parquet')`;
      return { fn, readFn: fn, params: { url: `${base}/${name}`, ...credParams }, location: `${base}/${name}`, commit: () => {}, abandon: () => {} };
    },
  };
}

interface Period {
  label: string;
  from: DateTime;
  to: DateTime;
}

/** The UTC days or months [from, to) touches, each cut to the range. */
export function splitPeriods(from: DateTime, to: DateTime, unit: 'day' | 'month'): Period[] {
  const out: Period[] = [];
  const f = from.toUTC();
  const t = to.toUTC();
  for (let start = f.startOf(unit); start < t; start = start.plus(unit === 'day' ? { days: 1 } : { months: 1 })) {
    const end = start.plus(unit === 'day' ? { days: 1 } : { months: 1 });
    out.push({
      label: unit === 'day' ? start.toFormat('yyyy-MM-dd') : start.toFormat('yyyy-MM'),
      from: start < f ? f : start,
      to: end > t ? t : end,
    });
  }
  return out;
}

/** A bound value for the tier's time column; a day row is in the range when its start is. */
function sqlBound(t: DateTime, granularity: Granularity): string {
  const u = t.toUTC();
  if (granularity !== 'day') return u.toFormat('yyyy-MM-dd HH:mm:ss');
  const day = u.startOf('day');
  return (u.equals(day) ? day : day.plus({ days: 1 })).toISODate()!;
}
