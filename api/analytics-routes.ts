import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { BREAKDOWN_COLUMNS, breakdown, totals, trending, viewsOverTime, type BreakdownDimension, type QueryContext } from '../clickhouse/dashboard-queries.ts';
import { errorSchema, filterProperties, limitSchema, rangeProperties, toFilters, toRangeInput, type FilterQuery, type RangeQuery } from './http-schemas.ts';

const rangeQuery = {
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: { ...rangeProperties, ...filterProperties },
} as const;

const countsProperties = { views: { type: 'integer' }, unique_viewers: { type: 'integer' } } as const;

const seriesSchema = {
  type: 'object',
  required: ['granularity', 'tz', 'points'],
  properties: {
    granularity: { type: 'string', enum: ['minute', 'hour', 'day'] },
    tz: { type: 'string' },
    points: {
      type: 'array',
      items: { type: 'object', required: ['t', 'views', 'unique_viewers'], properties: { t: { type: 'string', description: 'bucket start, ISO-8601 in tz' }, ...countsProperties } },
    },
    utc_days_before: { type: 'string', description: 'day buckets before this date are UTC days (older than the hour rows)' },
    pending_from: { type: 'string', description: 'buckets from this instant on are not written yet (the job writes a minute once its watermark has passed it): their zeros are not data' },
  },
} as const;

const totalsSchema = {
  type: 'object',
  required: ['from', 'to', 'views', 'unique_viewers'],
  properties: { from: { type: 'string' }, to: { type: 'string' }, ...countsProperties },
} as const;

const errors = { 400: errorSchema, 503: errorSchema } as const;

/** Creator analytics over the ClickHouse rollups: series, breakdowns, totals and trending videos. */
export function registerAnalyticsRoutes(app: FastifyInstance, clickhouse: ClickHouseClient, ctx: () => QueryContext): void {
  app.get<{ Querystring: RangeQuery }>(
    '/v1/analytics/views-over-time',
    {
      schema: {
        summary: 'Views and unique viewers per bucket; minute buckets up to 48 h, hours up to 90 days, days beyond',
        tags: ['analytics'],
        querystring: rangeQuery,
        response: { 200: seriesSchema, ...errors },
      },
    },
    async (request) => {
      const s = await viewsOverTime(clickhouse, toRangeInput(request.query), ctx());
      return {
        granularity: s.granularity,
        tz: s.tz,
        points: s.points,
        ...(s.utcDaysBefore === undefined ? {} : { utc_days_before: s.utcDaysBefore }),
        ...(s.pendingFrom === undefined ? {} : { pending_from: s.pendingFrom }),
      };
    },
  );

  app.get<{ Querystring: RangeQuery & { dimension: BreakdownDimension; limit?: number } }>(
    '/v1/analytics/breakdown',
    {
      schema: {
        summary: 'Views and unique viewers per value of one dimension, most viewed first',
        tags: ['analytics'],
        querystring: {
          ...rangeQuery,
          required: ['from', 'to', 'dimension'],
          properties: { ...rangeQuery.properties, dimension: { type: 'string', enum: Object.keys(BREAKDOWN_COLUMNS) }, limit: limitSchema },
        },
        response: {
          200: {
            type: 'object',
            required: ['dimension', 'rows'],
            properties: {
              dimension: { type: 'string' },
              rows: { type: 'array', items: { type: 'object', required: ['value', 'views', 'unique_viewers'], properties: { value: { type: 'string' }, ...countsProperties } } },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { dimension, limit, ...range } = request.query;
      const rows = await breakdown(clickhouse, { ...toRangeInput(range), dimension, ...(limit === undefined ? {} : { limit }) }, ctx());
      return { dimension, rows };
    },
  );

  app.get<{ Querystring: RangeQuery }>(
    '/v1/analytics/totals',
    {
      schema: {
        summary: 'Views and unique viewers over a range (unique viewers merged, not summed); the range answered is returned',
        tags: ['analytics'],
        querystring: rangeQuery,
        response: { 200: totalsSchema, ...errors },
      },
    },
    async (request) => totals(clickhouse, toRangeInput(request.query), ctx()),
  );

  app.get<{ Querystring: FilterQuery & { window_minutes?: number; limit?: number } }>(
    '/v1/trending',
    {
      schema: {
        summary: 'Videos with the most views in the last window_minutes minutes',
        tags: ['analytics'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...filterProperties, window_minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 }, limit: limitSchema },
        },
        response: {
          200: {
            type: 'object',
            required: ['window_minutes', 'videos'],
            properties: {
              window_minutes: { type: 'integer' },
              videos: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['video_id', 'channel_id', 'views', 'views_per_minute'],
                  properties: { video_id: { type: 'string' }, channel_id: { type: 'string' }, views: { type: 'integer' }, views_per_minute: { type: 'number' } },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { window_minutes: windowMinutes = 60, limit, ...filters } = request.query;
      const videos = await trending(clickhouse, { ...toFilters(filters), windowMinutes, ...(limit === undefined ? {} : { limit }) }, ctx());
      return { window_minutes: windowMinutes, videos };
    },
  );
}
