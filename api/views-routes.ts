import type { FastifyInstance } from 'fastify';
import { InvalidQueryError } from '../clickhouse/query-errors.ts';
import { MAX_ID_LENGTH } from '../schemas/event-validation.ts';
import { errorSchema, idSchema } from './http-schemas.ts';
import type { LiveViewReader } from './live-views.ts';

/** Most videos one batch request may ask for. */
export const MAX_BATCH_IDS = 50;

const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;

const liveViewsSchema = {
  type: 'object',
  required: ['video_id', 'views', 'unique_viewers', 'known', 'as_of', 'source'],
  properties: {
    video_id: { type: 'string' },
    views: { type: 'integer', description: 'counted views, all time' },
    unique_viewers: {
      type: 'integer',
      description: 'estimated distinct viewers, never above views: HyperLogLog in Redis (≈0.81 % standard error), uniqCombined in the ClickHouse rollups (≈0.6 %, exact for small sets)',
    },
    known: { type: 'boolean', description: 'false when no event of this video ever reached the job (an unknown id, e.g. a typo); true for a watched video, even with 0 counted views' },
    as_of: { type: 'string', format: 'date-time' },
    source: { type: 'string', enum: ['redis', 'clickhouse'], description: 'redis: live counter; clickhouse: rollups, when Redis is down or has no counter' },
  },
} as const;

/** Live counts: one video, or a comma-separated batch. */
export function registerViewsRoutes(app: FastifyInstance, reader: LiveViewReader): void {
  app.get<{ Params: { id: string } }>(
    '/v1/videos/:id/views',
    {
      schema: {
        summary: 'Live view count of one video',
        tags: ['views'],
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: idSchema } },
        response: { 200: liveViewsSchema, 400: errorSchema, 503: errorSchema },
      },
    },
    (request) => reader.readOne(request.params.id),
  );

  app.get<{ Querystring: { ids: string } }>(
    '/v1/views',
    {
      schema: {
        summary: `Live view counts of up to ${MAX_BATCH_IDS} videos`,
        tags: ['views'],
        querystring: {
          type: 'object',
          required: ['ids'],
          additionalProperties: false,
          properties: { ids: { type: 'string', minLength: 1, maxLength: MAX_BATCH_IDS * (MAX_ID_LENGTH + 1), description: 'video ids, comma separated' } },
        },
        response: {
          200: { type: 'object', required: ['videos'], properties: { videos: { type: 'array', items: liveViewsSchema } } },
          400: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => ({ videos: await reader.read(parseIds(request.query.ids)) }),
  );
}

/** Distinct ids of a comma-separated list, each as the event contract accepts it. */
function parseIds(list: string): string[] {
  const ids = [...new Set(list.split(','))];
  if (ids.length > MAX_BATCH_IDS) throw new InvalidQueryError('ids', `at most ${MAX_BATCH_IDS} ids, got ${ids.length}`);
  for (const id of ids) {
    if (id.length === 0) throw new InvalidQueryError('ids', 'empty id in the list');
    if (id.length > MAX_ID_LENGTH) throw new InvalidQueryError('ids', `id too long (${id.length} > ${MAX_ID_LENGTH} chars)`);
    if (CONTROL_CHAR.test(id)) throw new InvalidQueryError('ids', `id contains a control character: ${JSON.stringify(id.slice(0, 64))}`);
  }
  return ids;
}
