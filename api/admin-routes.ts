import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { outcomeCounts, recentRejected, type QueryContext } from '../clickhouse/dashboard-queries.ts';
import { OUTCOMES } from '../schemas/view-event.ts';
import { bearerChecker } from './admin-token.ts';
import { errorSchema, idSchema, limitSchema, rangeProperties, timeSchema, toTimeInput, tzSchema } from './http-schemas.ts';

const security = [{ adminToken: [] }];
const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema } as const;

/**
 * Operator routes behind `Authorization: Bearer <admin token>`: outcome counts (why raw events
 * and counted views differ) and recently rejected events with their bot reasons. Without a
 * configured token every request is refused.
 */
export function registerAdminRoutes(app: FastifyInstance, clickhouse: ClickHouseClient, adminToken: string | undefined, ctx: () => QueryContext): void {
  const authorized = bearerChecker(adminToken);

  app.register(async (admin) => {
    // onRequest runs before validation: an unauthenticated caller learns nothing about the parameters.
    admin.addHook('onRequest', async (request, reply) => {
      if (!authorized(request.headers.authorization)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'admin route: send Authorization: Bearer <admin token>' });
      }
    });

    admin.get<{ Querystring: { video_id: string; from: string; to: string; tz?: string } }>(
      '/v1/admin/outcomes',
      {
        schema: {
          summary: 'Events per outcome of one video over a range',
          tags: ['admin'],
          security,
          querystring: { type: 'object', required: ['video_id', 'from', 'to'], additionalProperties: false, properties: { video_id: idSchema, ...rangeProperties } },
          response: {
            200: {
              type: 'object',
              required: ['video_id', 'outcomes'],
              properties: {
                video_id: { type: 'string' },
                outcomes: { type: 'object', properties: Object.fromEntries(OUTCOMES.map((o) => [o, { type: 'integer' }])), additionalProperties: { type: 'integer' } },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const outcomes = await outcomeCounts(clickhouse, { videoId: q.video_id, from: toTimeInput(q.from), to: toTimeInput(q.to), ...(q.tz === undefined ? {} : { tz: q.tz }) });
        return { video_id: q.video_id, outcomes };
      },
    );

    admin.get<{ Querystring: { video_id?: string; since?: string; limit?: number; tz?: string } }>(
      '/v1/admin/rejected',
      {
        schema: {
          summary: 'Latest bot-rejected events with score and reasons, newest first (default: the last 7 days)',
          tags: ['admin'],
          security,
          querystring: { type: 'object', additionalProperties: false, properties: { video_id: idSchema, since: timeSchema, limit: limitSchema, tz: tzSchema } },
          response: {
            200: {
              type: 'object',
              required: ['events'],
              properties: {
                events: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['ts', 'video_id', 'event_id', 'score', 'reasons'],
                    properties: {
                      ts: { type: 'string' },
                      video_id: { type: 'string' },
                      event_id: { type: 'string' },
                      score: { type: 'number' },
                      reasons: { type: 'array', items: { type: 'string' } },
                      ip_prefix: { type: 'string' },
                      user_agent: { type: 'string' },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const events = await recentRejected(
          clickhouse,
          {
            ...(q.video_id === undefined ? {} : { videoId: q.video_id }),
            ...(q.since === undefined ? {} : { since: toTimeInput(q.since) }),
            ...(q.limit === undefined ? {} : { limit: q.limit }),
            ...(q.tz === undefined ? {} : { tz: q.tz }),
          },
          ctx(),
        );
        return { events };
      },
    );
  });
}
