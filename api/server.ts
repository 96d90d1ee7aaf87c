/**
 * The HTTP API: live counts (Redis, falling back to ClickHouse), creator analytics and admin
 * routes over the ClickHouse rollups, the beacon collector (→ Kafka), the OpenAPI document and
 * the dashboard page. Every route has a JSON schema; answers are serialized from the schemas.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { QueryContext } from '../clickhouse/dashboard-queries.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { registerAnalyticsRoutes } from './analytics-routes.ts';
import { registerBeaconRoute, type BeaconLimits } from './beacon-route.ts';
import { registerDashboardRoutes } from './dashboard-routes.ts';
import { createErrorHandler } from './error-handler.ts';
import { createLiveViewReader } from './live-views.ts';
import { registerViewsRoutes } from './views-routes.ts';
import type { RedisClient } from '../sinks/redis-client.ts';
import type { CounterScope } from '../sinks/live-counters.ts';

export interface ApiServerDeps {
  redis: RedisClient;
  /** The job whose live counters are read; needed on a Redis Cluster (see sinks/live-counters.ts). */
  counterScope?: CounterScope;
  clickhouse: ClickHouseClient;
  /** Producer of the collector (idempotent); without it `POST /v1/beacon` answers 503. */
  kafkaProducer?: Producer;
  /** Topic the collector produces to. */
  topic: string;
  /** Bearer token of the admin routes; without it they refuse every request. Never logged. */
  adminToken?: string;
  log: Logger;
  /** Origins (e.g. `https://player.example`) allowed to call the API from a browser; `*` for any. */
  corsOrigins?: string[];
  /** Collector limits: body size, events per request, requests per IP and window. */
  rateLimit?: BeaconLimits;
  /** Fastify's trustProxy: when set, the client address comes from X-Forwarded-For. */
  trustProxy?: boolean | string | string[];
  /** Clock and retention for the dashboard queries (tests pin them). */
  queryContext?: () => QueryContext;
  /** How long a ClickHouse fallback answer for one video is reused; default 1 s. */
  fallbackTtlMs?: number;
  /** How long a Redis answer for one video is reused (hot videos); default 250 ms. */
  liveTtlMs?: number;
}

const READY_TIMEOUT_MS = 1_000;

/** A configured fastify instance; call `listen` or `inject` on it, and `close` when done (the clients stay the caller's). */
export async function createApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const { log, redis, clickhouse } = deps;
  const app = Fastify({
    loggerInstance: log,
    // No log line per request: the hot path answers thousands a second; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    routerOptions: { maxParamLength: 512 },
    // Unknown query parameters are refused, not silently dropped: a typo must not widen a query.
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler(createErrorHandler(log));
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));
  // navigator.sendBeacon can only send CORS-safe types without a preflight; players send JSON as text/plain.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(Object.assign(new Error(`body is not valid JSON: ${(err as Error).message}`), { statusCode: 400, code: 'invalid_json' }), undefined);
    }
  });

  const origins = deps.corsOrigins ?? [];
  await app.register(cors, {
    origin: origins.includes('*') ? true : origins.length === 0 ? false : origins,
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type'],
    maxAge: 600,
  });
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'viewtally API', version: '1', description: 'Live view counts, creator analytics and the beacon collector.' },
      components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.get('/healthz', { schema: { summary: 'Answers once the server can serve', tags: ['health'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'Redis and ClickHouse reachable', tags: ['health'] } }, async (_request, reply) => {
    const [r, c] = await Promise.all([redisReachable(redis), clickHouseReachable(clickhouse)]);
    return reply.code(r && c ? 200 : 503).send({ status: r && c ? 'ready' : 'not_ready', redis: r ? 'ok' : 'unreachable', clickhouse: c ? 'ok' : 'unreachable' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const ctx = deps.queryContext ?? (() => ({}));
  registerViewsRoutes(
    app,
    createLiveViewReader({
      redis,
      clickhouse,
      log,
      ...(deps.counterScope === undefined ? {} : { scope: deps.counterScope }),
      ...(deps.fallbackTtlMs === undefined ? {} : { fallbackTtlMs: deps.fallbackTtlMs }),
      ...(deps.liveTtlMs === undefined ? {} : { liveTtlMs: deps.liveTtlMs }),
    }),
  );
  registerAnalyticsRoutes(app, clickhouse, ctx);
  registerAdminRoutes(app, clickhouse, deps.adminToken, ctx);
  registerBeaconRoute(app, deps.kafkaProducer, deps.topic, deps.rateLimit);
  registerDashboardRoutes(app);
  await app.ready();
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p.catch(() => fallback), new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() => clearTimeout(timer));
}

async function redisReachable(redis: RedisClient): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  return withTimeout(redis.ping().then((pong) => pong === 'PONG'), READY_TIMEOUT_MS, false);
}

async function clickHouseReachable(clickhouse: ClickHouseClient): Promise<boolean> {
  return withTimeout(clickhouse.ping().then((r) => r.success), READY_TIMEOUT_MS, false);
}
