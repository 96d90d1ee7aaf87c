/**
 * JSON schemas shared by the routes, and the step from validated query strings to the inputs
 * of the dashboard queries. The schemas reject what is malformed on its face; the dashboard
 * queries validate meaning (zones, range order and length) and throw InvalidQueryError.
 */
import { DEVICES, TRAFFIC_SOURCES } from '../schemas/view-event.ts';
import { MAX_ID_LENGTH, MAX_TEXT_LENGTH } from '../schemas/event-validation.ts';
import type { DimensionFilters, RangeInput, TimeInput } from '../clickhouse/query-params.ts';

/** An id as the event contract accepts it: 1–128 characters, no control characters. */
export const idSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
} as const;

/** An instant: ISO-8601 (read in `tz` when it has no offset) or integer ms since epoch. */
export const timeSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: 'ISO-8601 (without an offset it is read in tz) or integer ms since epoch',
} as const;

export const tzSchema = { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone, default UTC' } as const;

/** Equality filters on the rollup dimensions, as query parameters. */
export const filterProperties = {
  video_id: idSchema,
  channel_id: idSchema,
  category: { type: 'string', minLength: 1, maxLength: MAX_TEXT_LENGTH, pattern: idSchema.pattern },
  country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2, ZZ unknown' },
  device: { type: 'string', enum: [...DEVICES] },
  traffic_source: { type: 'string', enum: [...TRAFFIC_SOURCES] },
} as const;

export const rangeProperties = { from: timeSchema, to: timeSchema, tz: tzSchema } as const;

export const limitSchema = { type: 'integer', minimum: 1, maximum: 1000 } as const;

/** An error answer: which parameter is at fault and why. */
export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, parameter: { type: 'string' }, message: { type: 'string' } },
} as const;

/** Query parameters of a filtered range, as they arrive after schema validation. */
export interface FilterQuery {
  video_id?: string;
  channel_id?: string;
  category?: string;
  country?: string;
  device?: string;
  traffic_source?: string;
}
export interface RangeQuery extends FilterQuery {
  from: string;
  to: string;
  tz?: string;
}

/** Digits only are ms since epoch; anything else is left for the ISO parser. */
export function toTimeInput(v: string): TimeInput {
  return /^\d{1,15}$/.test(v) ? Number(v) : v;
}

/** Snake-case query filters → the dashboard queries' filters (absent ones left out). */
export function toFilters(q: FilterQuery): DimensionFilters {
  const f: DimensionFilters = {};
  if (q.video_id !== undefined) f.videoId = q.video_id;
  if (q.channel_id !== undefined) f.channelId = q.channel_id;
  if (q.category !== undefined) f.category = q.category;
  if (q.country !== undefined) f.country = q.country;
  if (q.device !== undefined) f.device = q.device;
  if (q.traffic_source !== undefined) f.trafficSource = q.traffic_source;
  return f;
}

export function toRangeInput(q: RangeQuery): RangeInput {
  const input: RangeInput = { ...toFilters(q), from: toTimeInput(q.from), to: toTimeInput(q.to) };
  if (q.tz !== undefined) input.tz = q.tz;
  return input;
}
