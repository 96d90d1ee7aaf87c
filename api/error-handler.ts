import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { InvalidQueryError } from '../clickhouse/query-errors.ts';
import { InvalidEventError } from '../schemas/errors.ts';

/** The dashboard queries name parameters in camelCase; the HTTP API names them in snake_case. */
const HTTP_NAMES: Record<string, string> = {
  videoId: 'video_id',
  channelId: 'channel_id',
  trafficSource: 'traffic_source',
  windowMinutes: 'window_minutes',
};

export interface ErrorBody {
  error: string;
  parameter?: string;
  message: string;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One schema violation as `parameter` and a sentence a person can act on. */
function describeValidation(context: string | undefined, e: AjvError): ErrorBody {
  let parameter = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (e.keyword === 'required') parameter = [parameter, String(e.params.missingProperty)].filter(Boolean).join('.');
  if (e.keyword === 'additionalProperties') {
    const name = String(e.params.additionalProperty);
    return { error: 'invalid_parameter', parameter: name, message: `${name}: unknown ${context ?? ''} parameter`.replace('  ', ' ') };
  }
  let problem = e.keyword === 'required' ? 'missing (required)' : (e.message ?? 'invalid');
  if (e.keyword === 'enum') problem = `expected one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'pattern' && /_id$|^id$|category/.test(parameter)) problem = 'must be 1–128 characters without control characters';
  if (e.keyword === 'pattern' && parameter === 'country') problem = 'expected ISO 3166-1 alpha-2 (e.g. US, ZZ)';
  const where = parameter === '' ? (context ?? 'request') : parameter;
  return { error: 'invalid_parameter', parameter: where, message: `${where}: ${problem}` };
}

/**
 * Maps errors to answers: schema violations and invalid queries or events → 400 naming the
 * parameter; body too large → 413; rate limited → 429; anything else → 503 when a store is
 * unreachable, else 500, logged without the request's headers.
 */
export function createErrorHandler(log: Logger) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err.validation && err.validation.length > 0) {
      return reply.code(400).send(describeValidation(err.validationContext, err.validation[0] as AjvError));
    }
    if (err instanceof InvalidQueryError) {
      const parameter = HTTP_NAMES[err.parameter] ?? err.parameter;
      const message = err.message.startsWith(`${err.parameter}:`) ? `${parameter}${err.message.slice(err.parameter.length)}` : err.message;
      return reply.code(400).send({ error: 'invalid_parameter', parameter, message });
    }
    if (err instanceof InvalidEventError) {
      return reply.code(400).send({ error: 'invalid_event', ...(err.field === undefined ? {} : { parameter: err.field }), message: err.message });
    }
    const status = err.statusCode ?? 500;
    if (status === 413) return reply.code(413).send({ error: 'payload_too_large', message: err.message });
    if (status === 429) return reply.code(429).send({ error: 'rate_limited', message: err.message });
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.code ?? 'bad_request', message: err.message });
    // A 503 the code raised on purpose (e.g. fallbacks busy) is expected under load: answered, not logged.
    if (status === 503) return reply.code(503).send({ error: 'unavailable', message: err.message });
    const unavailable = isUnavailable(err);
    log.error({ err, method: request.method, route: request.routeOptions.url }, unavailable ? 'store unavailable' : 'request failed');
    return reply
      .code(unavailable ? 503 : 500)
      .send({ error: unavailable ? 'unavailable' : 'internal', message: unavailable ? 'a store behind the API is unreachable; retry shortly' : 'internal error' });
  };
}

/** Connection-level failures (refused, reset, timed out) anywhere in the cause chain. */
export function isUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|UND_ERR_)/.test(e.code)) return true;
    if (typeof e.name === 'string' && /Kafka|Timeout|Connection/i.test(e.name)) return true;
    if (typeof e.message === 'string' && /timeout|timed out|socket hang up|Connection is closed|isn't writeable/i.test(e.message)) return true;
  }
  return false;
}
