/**
 * The local ClickHouse: chDB (ClickHouse in-process) behind the part of
 * ClickHouse's HTTP interface that `@clickhouse/client` uses, run as a process
 * of its own so that every worker, the API and the CLI reach one data directory
 * over HTTP exactly as they would reach a ClickHouse server.
 *
 *   node --import tsx infra/clickhouse-http-server.ts --path <datadir> --port 18123
 *
 * What is covered (see infra/clickhouse-http-server.int.test.ts):
 * - `GET /ping` and `GET /` → `Ok.\n`.
 * - `POST /?query_id=…&<settings>&param_<name>=…` with the statement in the body
 *   (`FORMAT <fmt>` appended by the client for selects), or `GET /?query=…`.
 * - `POST /?query=INSERT INTO t [(cols)] FORMAT <fmt>&<settings>` with the rows in
 *   the body; any input format chDB knows (JSONEachRow, CSV, TSV, RowBinary, …).
 * - settings as URL parameters (`insert_deduplication_token`,
 *   `deduplicate_blocks_in_dependent_materialized_views`, `async_insert`, …);
 *   parameters that only mean something to the HTTP layer (`database`, `query_id`,
 *   `default_format`, `wait_end_of_query`, `enable_http_compression`, `session_id`,
 *   `user`, `password`, …) are understood or ignored, never passed as settings.
 * - `param_<name>` bound server-side by the engine (the values are passed to
 *   chDB byte for byte, in ClickHouse's text form exactly as the client wrote
 *   them), also when the client moves them into a multipart/form-data body.
 * - request bodies compressed with gzip/deflate/br (`Content-Encoding`).
 * - errors: HTTP 500, body `Code: N. DB::Exception: … (TYPE) (version …)` and
 *   header `X-ClickHouse-Exception-Code: N`, so the client raises a typed
 *   ClickHouseError carrying the engine's own code.
 *
 * Files: request parsing (clickhouse-http-request.ts), error text
 * (clickhouse-http-errors.ts), the pool of chDB connections (chdb-engine.ts) on
 * the addon's own entry points (chdb-native.ts), the HTTP server
 * (start-clickhouse-http-server.ts); this file is the process's entry point.
 */
import { resolve as resolvePath } from 'node:path';
import { startClickHouseHttpServer } from './start-clickhouse-http-server.ts';

function parseArgs(argv: string[]): { path: string; port: number; host: string; pool: number } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    const eq = argv.find((a) => a.startsWith(`--${name}=`));
    return eq?.slice(name.length + 3);
  };
  const path = get('path');
  const port = Number(get('port') ?? 18123);
  if (!path) throw new Error('usage: clickhouse-http-server.ts --path <datadir> [--port 18123] [--host 127.0.0.1] [--pool 4]');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${get('port')}`);
  return { path, port, host: get('host') ?? '127.0.0.1', pool: Number(get('pool') ?? 4) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`);
  process.on('uncaughtException', (e) => log(`uncaught exception (kept running): ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => log(`unhandled rejection (kept running): ${e instanceof Error ? e.stack : String(e)}`));
  const srv = await startClickHouseHttpServer({ path: args.path, port: args.port, host: args.host, poolSize: args.pool, log });
  log(`clickhouse-http-server (chDB ${srv.engine.version}) listening on http://${args.host}:${srv.port}, data ${resolvePath(args.path)}, pid ${process.pid}`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: shutting down`);
    srv.close().then(
      () => {
        log('stopped');
        process.exit(0);
      },
      (e) => {
        log(`shutdown failed: ${e}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`${new Date().toISOString()} clickhouse-http-server failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
