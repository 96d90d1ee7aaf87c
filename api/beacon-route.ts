import type { FastifyInstance } from 'fastify';
import type { Producer } from 'kafkajs';
import { InvalidEventError } from '../schemas/errors.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { parseJsonEvent } from '../schemas/json-event.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { errorSchema } from './http-schemas.ts';

/** Limits of the collector. */
export interface BeaconLimits {
  /** Largest request body, bytes; larger → 413. Default 16 KiB. */
  bodyLimitBytes?: number;
  /** Most events in one request. Default 50. */
  maxEvents?: number;
  /** Requests per IP and window; more → 429. Default 120 per minute. */
  ratePerWindow?: number;
  windowMs?: number;
}

const eventSchema = {
  type: 'object',
  description:
    'A view event in its JSON form (see the design contract): event_id, event_type, video_id, channel_id, category, viewer_id, owner_id, ' +
    'session_id, ts (ms or ISO-8601 with offset), watch_ms, video_duration_ms, country, device, traffic_source, ja3. ' +
    'ip and user_agent are taken from the request, whatever the body says.',
} as const;

/**
 * `POST /v1/beacon`: the collector. Validates one event or a small array (all or nothing),
 * stamps each with the caller's address and user agent (a player cannot vouch for either),
 * and produces them to Kafka as Avro keyed by (viewer key, video). Answers 202 once Kafka has
 * them; no database is touched. `text/plain` bodies are read as JSON too, for navigator.sendBeacon.
 */
export function registerBeaconRoute(app: FastifyInstance, producer: Producer | undefined, topic: string, limits: BeaconLimits = {}): void {
  const maxEvents = limits.maxEvents ?? 50;
  app.post<{ Body: Record<string, unknown> | Record<string, unknown>[] }>(
    '/v1/beacon',
    {
      bodyLimit: limits.bodyLimitBytes ?? 16 * 1024,
      config: { rateLimit: { max: limits.ratePerWindow ?? 120, timeWindow: limits.windowMs ?? 60_000 } },
      schema: {
        summary: 'Collect view events from players',
        tags: ['collector'],
        body: { anyOf: [eventSchema, { type: 'array', minItems: 1, maxItems: maxEvents, items: eventSchema }] },
        response: {
          202: { type: 'object', required: ['accepted'], properties: { accepted: { type: 'integer' } } },
          400: errorSchema,
          413: errorSchema,
          429: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      if (producer === undefined) return reply.code(503).send({ error: 'unavailable', message: 'this server runs without a collector (no Kafka producer)' });
      const list = Array.isArray(request.body) ? request.body : [request.body];
      const userAgent = request.headers['user-agent'] ?? '';
      const messages = list.map((raw, i) => {
        try {
          const event = parseJsonEvent({ ...raw, ip: request.ip, user_agent: userAgent });
          return { key: kafkaKey(event), value: encodeViewEvent(event) };
        } catch (err) {
          if (!(err instanceof InvalidEventError) || !Array.isArray(request.body)) throw err;
          throw new InvalidEventError(`events[${i}].${err.message}`, err.field, err);
        }
      });
      await producer.send({ topic, messages, acks: -1 });
      return reply.code(202).send({ accepted: messages.length });
    },
  );
}
