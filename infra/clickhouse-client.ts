/**
 * The one place a ClickHouse client is made. Every module gets its client here,
 * so the local chDB-over-HTTP server, a real ClickHouse server and the embedded
 * engine are configured the same way.
 *
 *   createClickHouseClient('http://127.0.0.1:18123')   // `viewtally infra up` / a server
 *   createClickHouseClient('embedded:/path/to/dir')    // chDB in this process
 *
 * Both answer with the same conventions: UInt64/Int64 in JSON formats are
 * strings (the ClickHouse server default), and DateTime input accepts ISO-8601.
 */
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings, type LogParams, type Logger } from '@clickhouse/client';
import type * as ChdbConnection from 'chdb/connection';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { BINARY_FORMAT, insertFormatOf, insertViaFile } from './binary-insert.ts';

export const EMBEDDED_PREFIX = 'embedded:';

// chDB's connection module loads only for an embedded target: a client of a server, in every job
// thread and CLI command, must not pay ~0.1 s of start-up for it.
const require = createRequire(import.meta.url);

/** Settings every client sends; kept small since the HTTP server applies them per request. */
export const DEFAULT_CLICKHOUSE_SETTINGS: ClickHouseSettings = {
  date_time_input_format: 'best_effort',
  output_format_json_quote_64bit_integers: 1,
};

export interface ClickHouseClientOptions {
  /** Extra settings sent with every request. */
  settings?: ClickHouseSettings;
  /** Per-request timeout (HTTP only), default 60 s. */
  requestTimeoutMs?: number;
  /** Max sockets to the server (HTTP only), default 16. */
  maxOpenConnections?: number;
}

let clientLog: pino.Logger | undefined;

/**
 * The client's own log, at debug on stderr (`VT_LOG_LEVEL=debug` shows it): its failures
 * reach the caller as errors anyway, and its default logger prints a multi-line dump of each
 * one before the caller can say anything useful.
 */
class DebugLogger implements Logger {
  private log(p: LogParams & { err?: Error }): void {
    clientLog ??= pino({ name: 'clickhouse-client', level: process.env.VT_LOG_LEVEL ?? 'info' }, pino.destination(2));
    clientLog.debug({ module: p.module, args: p.args, err: p.err }, p.message);
  }
  trace(p: LogParams): void {
    this.log(p);
  }
  debug(p: LogParams): void {
    this.log(p);
  }
  info(p: LogParams): void {
    this.log(p);
  }
  warn(p: LogParams & { err?: Error }): void {
    this.log(p);
  }
  error(p: LogParams & { err: Error }): void {
    this.log(p);
  }
}

const CLIENT_LOG = { LoggerClass: DebugLogger, level: ClickHouseLogLevel.WARN };

/** An exec of `INSERT … FORMAT <binary>` with its data, as chdb/connection receives it. */
interface ExecWithValues {
  query: string;
  values?: AsyncIterable<Buffer | Uint8Array | string>;
}

/**
 * chdb/connection inlines insert data as text, which cuts binary data (RowBinary) at its first
 * empty line: binary inserts go through a file instead, as the local HTTP server does.
 */
async function execBinary(exec: (params: ExecWithValues) => Promise<unknown>, params: ExecWithValues): Promise<unknown> {
  const format = insertFormatOf(params.query);
  if (params.values === undefined || format === undefined || !BINARY_FORMAT.test(format)) return exec(params);
  const parts: Buffer[] = [];
  for await (const chunk of params.values) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return insertViaFile(params.query, Buffer.concat(parts), (query) => exec({ ...params, query, values: undefined }));
}

/**
 * chdb/connection raises errors of @clickhouse/client-common's ClickHouseError
 * class, a different class from the one @clickhouse/client exports; re-raise them
 * as the latter so `instanceof ClickHouseError` holds for both targets. Its binary
 * inserts go by file (execBinary).
 */
function withClientErrors<T extends object>(conn: T): T {
  const wrapped = new Set(['query', 'exec', 'command', 'insert']);
  return new Proxy(conn, {
    get(target, prop) {
      // The target uses private fields: getters and methods must see the target as `this`.
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      if (typeof prop !== 'string' || !wrapped.has(prop)) return v.bind(target);
      return async (...args: unknown[]) => {
        try {
          const call = (...a: unknown[]) => (v as (...x: unknown[]) => Promise<unknown>).apply(target, a);
          return await (prop === 'exec' ? execBinary(call, args[0] as ExecWithValues) : call(...args));
        } catch (e) {
          const err = e as { code?: unknown; type?: unknown; message?: string; constructor?: { name?: string } };
          if (!(e instanceof ClickHouseError) && err?.constructor?.name === 'ClickHouseError' && typeof err.code === 'string') {
            throw Object.assign(new ClickHouseError({ message: err.message ?? '', code: err.code, type: typeof err.type === 'string' ? err.type : undefined }), { cause: e });
          }
          throw e;
        }
      };
    },
  });
}

export function isEmbeddedTarget(target: string): boolean {
  return target.startsWith(EMBEDDED_PREFIX);
}

/**
 * `http(s)://…` → an HTTP client (compression off: the local server is on
 * loopback; it would also accept gzip bodies). `embedded:<dir>` → the client's
 * Connection replaced by chDB in this process (one data directory per process).
 */
export function createClickHouseClient(target: string, opts: ClickHouseClientOptions = {}): ClickHouseClient {
  if (isEmbeddedTarget(target)) {
    const dir = resolve(target.slice(EMBEDDED_PREFIX.length) || '.viewtally/data/embedded');
    mkdirSync(dir, { recursive: true });
    return createClient({
      // chdb/connection types Connection against its own copy of client-common.
      connection: withClientErrors((require('chdb/connection') as typeof ChdbConnection).createChdbConnection({ path: dir })) as never,
      log: CLIENT_LOG,
      clickhouse_settings: {
        ...DEFAULT_CLICKHOUSE_SETTINGS,
        // chdb/connection applies settings with `SET` on a long-lived connection, so a
        // token would stay in force for the next insert; sending an empty default with
        // every request resets it unless the call sets its own.
        insert_deduplication_token: '',
        ...opts.settings,
      },
    });
  }
  if (!/^https?:\/\//.test(target)) {
    throw new Error(`ClickHouse target must be an http(s):// URL or ${EMBEDDED_PREFIX}<dir>, got ${JSON.stringify(target)}`);
  }
  return createClient({
    url: target,
    compression: { request: false, response: false },
    request_timeout: opts.requestTimeoutMs ?? 60_000,
    max_open_connections: opts.maxOpenConnections ?? 16,
    log: CLIENT_LOG,
    clickhouse_settings: { ...DEFAULT_CLICKHOUSE_SETTINGS, ...opts.settings },
  });
}
