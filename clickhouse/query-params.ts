/**
 * Validation of dashboard inputs, and the one place filter clauses are written. User values
 * only ever travel as bound parameters; the SQL text around them is made of constants chosen by
 * which filters are present.
 */
import { DateTime, IANAZone } from 'luxon';
import { DEVICES, TRAFFIC_SOURCES } from '../schemas/view-event.ts';
import { MAX_ID_LENGTH, MAX_TEXT_LENGTH, MAX_TS_MS, MIN_TS_MS } from '../schemas/event-validation.ts';
import { InvalidQueryError } from './query-errors.ts';

/** An instant: a Date, ms since epoch, or ISO-8601 text (text without an offset is read in the request's zone). */
export type TimeInput = Date | number | string;

/** Equality filters on the rollup dimensions; absent means all. */
export interface DimensionFilters {
  videoId?: string;
  channelId?: string;
  category?: string;
  country?: string;
  device?: string;
  trafficSource?: string;
}

/** A time range [from, to) with the creator's zone (IANA name, default UTC) and filters. */
export interface RangeInput extends DimensionFilters {
  from: TimeInput;
  to: TimeInput;
  tz?: string;
}

/** A validated range: instants in the request's zone. */
export interface ParsedRange {
  from: DateTime;
  to: DateTime;
  tz: string;
}

/** Longest range a dashboard query accepts: 10 years (day rows can be kept forever). */
export const MAX_RANGE_DAYS = 3660;
/** Largest `limit` a dashboard query accepts. */
export const MAX_LIMIT = 1000;

const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;
const COUNTRY = /^[A-Z]{2}$/;
const DEVICE_SET: ReadonlySet<string> = new Set(DEVICES);
const TRAFFIC_SOURCE_SET: ReadonlySet<string> = new Set(TRAFFIC_SOURCES);

/** Filter key → column. Keys and columns are constants; only the values come from the request. */
const FILTER_COLUMNS = [
  ['videoId', 'video_id'],
  ['channelId', 'channel_id'],
  ['category', 'category'],
  ['country', 'country'],
  ['device', 'device'],
  ['trafficSource', 'traffic_source'],
] as const;

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** A known IANA zone name (luxon), in the spelling ClickHouse expects; absent means UTC. */
export function parseZone(tz: unknown): string {
  if (tz === undefined) return 'UTC';
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || !IANAZone.isValidZone(tz)) {
    throw new InvalidQueryError('tz', `unknown time zone ${show(tz)}; expected an IANA name such as America/Los_Angeles`);
  }
  // Intl accepts any letter case, ClickHouse only the exact spelling; ICU's canonical name may be
  // an older alias (Asia/Kolkata → Asia/Calcutta), so it only replaces a name that differs in case.
  const canonical = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  return canonical.toLowerCase() === tz.toLowerCase() ? canonical : tz;
}

/** An instant from a Date, ms since epoch or ISO-8601 text (read in `tz` when it has no offset). */
export function parseInstant(name: string, v: unknown, tz: string): DateTime {
  let t: DateTime;
  if (v instanceof Date) t = DateTime.fromJSDate(v, { zone: tz });
  else if (typeof v === 'number' && Number.isInteger(v)) t = DateTime.fromMillis(v, { zone: tz });
  else if (typeof v === 'string' && v.length <= 64) t = DateTime.fromISO(v, { zone: tz });
  else throw new InvalidQueryError(name, `expected an ISO-8601 time or ms since epoch, got ${show(v)}`);
  if (!t.isValid) throw new InvalidQueryError(name, `not a valid time: ${show(v)} (${t.invalidExplanation ?? t.invalidReason})`);
  const ms = t.toMillis();
  if (ms < MIN_TS_MS || ms >= MAX_TS_MS) throw new InvalidQueryError(name, `out of range (2000-01-01 … 2099-12-31): ${show(v)}`);
  return t;
}

/** A validated [from, to): `from` before `to`, at most `maxDays` long. */
export function parseRange(input: { from: unknown; to: unknown; tz?: unknown }, maxDays = MAX_RANGE_DAYS): ParsedRange {
  const tz = parseZone(input.tz);
  const from = parseInstant('from', input.from, tz);
  const to = parseInstant('to', input.to, tz);
  if (to.toMillis() <= from.toMillis()) throw new InvalidQueryError('to', `must be after from (${from.toISO()} … ${to.toISO()})`);
  if (to.toMillis() - from.toMillis() > maxDays * 86_400_000) throw new InvalidQueryError('to', `range longer than ${maxDays} days`);
  return { from, to, tz };
}

function checkText(name: string, v: unknown, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidQueryError(name, `expected a non-empty string, got ${show(v)}`);
  if (v.length > maxLength) throw new InvalidQueryError(name, `too long (${v.length} > ${maxLength} chars)`);
  if (CONTROL_CHAR.test(v)) throw new InvalidQueryError(name, `contains a control character: ${show(v)}`);
  return v;
}

/** Validated filters: ids and category as the event schema accepts them, enums by their lists. */
export function parseFilters(f: DimensionFilters): DimensionFilters {
  const out: DimensionFilters = {};
  if (f.videoId !== undefined) out.videoId = checkText('videoId', f.videoId, MAX_ID_LENGTH);
  if (f.channelId !== undefined) out.channelId = checkText('channelId', f.channelId, MAX_ID_LENGTH);
  if (f.category !== undefined) out.category = checkText('category', f.category, MAX_TEXT_LENGTH);
  if (f.country !== undefined) {
    if (typeof f.country !== 'string' || !COUNTRY.test(f.country)) throw new InvalidQueryError('country', `expected ISO 3166-1 alpha-2 (e.g. US, ZZ), got ${show(f.country)}`);
    out.country = f.country;
  }
  if (f.device !== undefined) {
    if (typeof f.device !== 'string' || !DEVICE_SET.has(f.device)) throw new InvalidQueryError('device', `expected one of ${DEVICES.join(', ')}, got ${show(f.device)}`);
    out.device = f.device;
  }
  if (f.trafficSource !== undefined) {
    if (typeof f.trafficSource !== 'string' || !TRAFFIC_SOURCE_SET.has(f.trafficSource)) {
      throw new InvalidQueryError('trafficSource', `expected one of ${TRAFFIC_SOURCES.join(', ')}, got ${show(f.trafficSource)}`);
    }
    out.trafficSource = f.trafficSource;
  }
  return out;
}

/** A positive integer up to `max`, `fallback` when absent. */
export function parseCount(name: string, v: unknown, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new InvalidQueryError(name, `expected an integer in 1..${max}, got ${show(v)}`);
  return v;
}

/** ` AND column = {f_column:String}` for each filter present, and the bound values. */
export function filterClause(f: DimensionFilters): { sql: string; params: Record<string, string> } {
  let sql = '';
  const params: Record<string, string> = {};
  for (const [key, column] of FILTER_COLUMNS) {
    const v = f[key];
    if (v === undefined) continue;
    sql += ` AND ${column} = {f_${column}:String}`;
    params[`f_${column}`] = v;
  }
  return { sql, params };
}
