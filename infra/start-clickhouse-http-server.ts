/**
 * The HTTP side: ClickHouse's `/ping` and `/` endpoints, each request parsed,
 * run on the engine and answered with the headers `@clickhouse/client` reads
 * (`X-ClickHouse-Summary`, `X-ClickHouse-Format`, `X-ClickHouse-Exception-Code`).
 */
import http from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ChdbEngine } from './chdb-engine.ts';
import { ChError, errorText, isUnexpected } from './clickhouse-http-errors.ts';
import { parseRequest, readBody } from './clickhouse-http-request.ts';

function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f === 'jsoneachrow' || f === 'jsonstringseachrow' || f === 'jsoncompacteachrow' || f === 'ndjson' || f === 'jsonlines') return 'application/x-ndjson; charset=UTF-8';
  if (f.startsWith('json')) return 'application/json; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=absent';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('rowbinary') || f === 'native' || f.startsWith('arrow') || f === 'parquet' || f === 'orc' || f === 'avro') return 'application/octet-stream';
  return 'text/plain; charset=UTF-8';
}

/** Where the server keeps its data and listens. */
export interface ClickHouseHttpServerOptions {
  path: string;
  port: number;
  host?: string;
  poolSize?: number;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

/** A listening server; `close` drains requests in flight, then closes the engine. */
export interface RunningClickHouseHttpServer {
  port: number;
  engine: ChdbEngine;
  close(graceMs?: number): Promise<void>;
}

/** Opens the data directory, then listens; resolves once it accepts connections. */
export async function startClickHouseHttpServer(opts: ClickHouseHttpServerOptions): Promise<RunningClickHouseHttpServer> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
  const engine = new ChdbEngine(resolvePath(opts.path), opts.poolSize ?? 4);
  await engine.init();
  const maxBody = opts.maxBodyBytes ?? 1 << 30;
  const inflight = new Set<Promise<void>>();
  let closing = false;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const common: Record<string, string> = {
      'X-ClickHouse-Server-Display-Name': 'viewtally-chdb',
      'X-ClickHouse-Timezone': 'UTC',
    };
    if (closing) common.Connection = 'close';
    const hasQuery = url.searchParams.has('query');
    if ((url.pathname === '/ping' || url.pathname === '/replicas_status' || (url.pathname === '/' && req.method === 'GET' && !hasQuery)) && (req.method === 'GET' || req.method === 'HEAD')) {
      req.resume();
      res.writeHead(200, { ...common, 'Content-Type': 'text/html; charset=UTF-8', 'Content-Length': '4' });
      res.end(req.method === 'HEAD' ? undefined : 'Ok.\n');
      return;
    }
    let queryId = url.searchParams.get('query_id') ?? randomUUID();
    try {
      if (url.pathname !== '/' && url.pathname !== '') throw new ChError(1001, `There is no handle ${url.pathname}`, 404);
      if (req.method !== 'POST' && req.method !== 'GET') throw new ChError(1, `HTTP method ${req.method} is not supported`, 405);
      const body = await readBody(req, maxBody);
      const parsed = parseRequest(url, body, String(req.headers['content-type'] ?? ''));
      queryId = parsed.queryId;
      const r = await engine.execute(parsed);
      const summary = {
        read_rows: String(r.readRows),
        read_bytes: String(r.readBytes),
        written_rows: String(r.writtenRows),
        written_bytes: String(r.writtenBytes),
        total_rows_to_read: String(r.readRows),
        result_rows: String(r.writtenRows > 0 ? r.writtenRows : r.readRows),
        result_bytes: String(r.bytes.length),
        elapsed_ns: String(r.elapsedNs),
      };
      const headers: Record<string, string> = {
        ...common,
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Summary': JSON.stringify(summary),
        'Content-Length': String(r.bytes.length),
      };
      if (parsed.insertFormat) {
        headers['Content-Type'] = 'text/plain; charset=UTF-8';
      } else {
        headers['Content-Type'] = contentTypeFor(parsed.outputFormat);
        headers['X-ClickHouse-Format'] = parsed.outputFormat;
      }
      res.writeHead(200, headers);
      res.end(r.bytes);
    } catch (err) {
      const e = errorText(err, engine.version);
      if (isUnexpected(err)) {
        log(`query ${queryId} failed unexpectedly: ${err instanceof Error ? err.stack : String(err)}`);
      }
      if (!res.headersSent) {
        res.writeHead(e.status, {
          ...common,
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Query-Id': queryId,
          'X-ClickHouse-Exception-Code': String(e.code),
          'Content-Length': String(Buffer.byteLength(e.text)),
        });
        res.end(e.text);
      } else {
        res.destroy();
      }
      // Leave the rest of an unread body alone; the connection is closed if needed.
      if (!req.complete) req.resume();
    }
  }

  const server = http.createServer((req, res) => {
    const p = handle(req, res).catch((err) => {
      log(`request handler crashed: ${err instanceof Error ? err.stack : String(err)}`);
      try {
        res.destroy();
      } catch {
        /* ignore */
      }
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  server.on('clientError', (_err, socket) => {
    try {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    } catch {
      /* ignore */
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log(`server error: ${e.message}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;

  return {
    port,
    engine,
    async close(graceMs = 10_000) {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, graceMs).unref())]);
      server.closeAllConnections();
      await closed;
      engine.close();
    },
  };
}
