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
 * Concurrency: requests run on a small pool of chDB connections to the one data
 * directory (same-path connections coexist in chDB and each keeps its own
 * settings). A request holds its connection exclusively, so the URL settings it
 * applies (`SET …`) cannot leak into another request; they are reset to DEFAULT
 * (or recycled) before the connection serves a request with other settings.
 * Queries with bound parameters are serialized process-wide: chDB's parameter
 * state is not isolated per connection (chdb-node serializes them too).
 *
 * chDB entry points: statements and bound queries go through the addon's
 * `QueryAsyncConnection` and insert bodies through `InsertRawAsyncConnection`
 * (the same native calls `Session.queryBindAsync` and `Session.insert` make):
 * the public wrappers re-escape parameter strings and accept only a fixed list of
 * identifiers and formats, while this server must pass through exactly what the
 * client sent. The addon is loaded from the very package chdb loads it from, so
 * it is one module instance; if a chdb upgrade drops these entry points the
 * server refuses to start instead of misbehaving.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { Session } from 'chdb';

// ---------------------------------------------------------------------------
// native addon access

interface NativeResult {
  bytes?: Uint8Array;
  elapsed?: number;
  rowsRead?: number;
  bytesRead?: number;
  rowsWritten?: number;
  bytesWritten?: number;
}

interface ChdbNative {
  QueryAsyncConnection(conn: unknown, sql: string, format: string, params?: Record<string, string>): Promise<NativeResult>;
  InsertRawAsyncConnection(conn: unknown, prefix: string, data: Buffer, countLines: boolean): Promise<NativeResult>;
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@chdb/lib-linux-x64-gnu',
  'linux-arm64': '@chdb/lib-linux-arm64-gnu',
  'darwin-x64': '@chdb/lib-darwin-x64',
  'darwin-arm64': '@chdb/lib-darwin-arm64',
};

function loadNative(): ChdbNative {
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (!pkg) throw new Error(`chdb has no prebuilt engine for ${process.platform}-${process.arch}`);
  // Resolve from chdb's own location so this is the module instance chdb uses.
  const chdbRequire = createRequire(createRequire(import.meta.url).resolve('chdb'));
  const native = chdbRequire(pkg) as Partial<ChdbNative>;
  if (typeof native.QueryAsyncConnection !== 'function' || typeof native.InsertRawAsyncConnection !== 'function') {
    throw new Error(`${pkg} lacks QueryAsyncConnection/InsertRawAsyncConnection; this chdb version is not supported by infra/clickhouse-http-server.ts`);
  }
  return native as ChdbNative;
}

// ---------------------------------------------------------------------------
// errors

export class ChError extends Error {
  constructor(readonly code: number, message: string, readonly httpStatus = 500) {
    super(message);
  }
}

const CODE_NAMES: Record<number, string> = {
  1: 'UNSUPPORTED_METHOD',
  27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  62: 'SYNTAX_ERROR',
  73: 'UNKNOWN_FORMAT',
  108: 'NO_DATA_TO_INSERT',
  115: 'UNKNOWN_SETTING',
  456: 'UNKNOWN_QUERY_PARAMETER',
  1001: 'STD_EXCEPTION',
};

/** The text a ClickHouse server sends for an exception, with its code. */
function errorText(err: unknown, engineVersion: string): { code: number; text: string; status: number } {
  if (err instanceof ChError) {
    const type = CODE_NAMES[err.code] ?? 'UNKNOWN_EXCEPTION';
    return { code: err.code, status: err.httpStatus, text: `Code: ${err.code}. DB::Exception: ${err.message}. (${type}) (version ${engineVersion})\n` };
  }
  const msg = err instanceof Error ? err.message : String(err);
  const m = /^\s*Code: (\d+)\./.exec(msg);
  if (m) {
    // Already the engine's `Code: N. DB::Exception: … (TYPE)` text.
    return { code: Number(m[1]), status: 500, text: `${msg.trimEnd()} (version ${engineVersion})\n` };
  }
  return { code: 1001, status: 500, text: `Code: 1001. DB::Exception: ${msg.replace(/\s+$/, '')}. (STD_EXCEPTION) (version ${engineVersion})\n` };
}

// ---------------------------------------------------------------------------
// request → statement

/** URL parameters that belong to the HTTP layer or the client, never settings. */
const NOT_SETTINGS = new Set([
  'query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check',
  'user', 'password', 'quota_key', 'role', 'compress', 'decompress', 'buffer_size', 'wait_end_of_query',
  'enable_http_compression', 'http_zlib_compression_level', 'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress', 'send_progress_in_http_headers',
  'http_headers_progress_interval_ms', 'http_send_progress_interval_ms', 'http_response_buffer_size',
  'http_wait_end_of_query', 'add_http_cors_header', 'cancel_http_readonly_queries_on_client_close',
  'stacktrace', 'client_protocol_version', 'default_session_timeout', 'max_session_timeout',
  'http_max_request_param_data_size', 'http_make_head_request',
]);

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IDENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `INSERT INTO t [(c1, c2)] [SETTINGS …] FORMAT Fmt` whose data follows separately. */
/** Insert formats whose data is lines of text, and binary ones (sent to the engine as a file). */
const LINE_FORMAT = /^(JSONEachRow|JSONCompactEachRow|JSONStringsEachRow|TabSeparated|TSV|NDJSON|JSONLines)$/i;
const BINARY_FORMAT = /^(RowBinary\w*|Native|Parquet|Arrow\w*|ORC|Avro|Protobuf\w*|MsgPack|CapnProto|BSONEachRow|Npy)$/i;
const INSERT_WITH_DATA = /^\s*INSERT\s+INTO\s+(?!FUNCTION\b)(?:TABLE\s+)?(?:`[^`]*`|"[^"]*"|[\w.])+\s*(?:\([^()]*\))?\s*(?:SETTINGS\s+[\s\S]*?)?FORMAT\s+(\w+)\s*$/i;
/** The output format a statement asks for, when it ends with `FORMAT X`. */
const TRAILING_FORMAT = /\bFORMAT\s+(\w+)\s*(?:SETTINGS\s+[^;]*?)?\s*;?\s*$/i;
const STARTS_WITH_STATE_CHANGE = /^\s*(?:SET|USE)\b/i;

export interface ParsedRequest {
  queryId: string;
  sql: string;
  /** Insert data that follows `sql` (sql is then `INSERT … FORMAT X`). */
  data?: Buffer;
  insertFormat?: string;
  outputFormat: string;
  settings: Map<string, string>;
  params: Map<string, string>;
  database?: string;
}

function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f === 'jsoneachrow' || f === 'jsonstringseachrow' || f === 'jsoncompacteachrow' || f === 'ndjson' || f === 'jsonlines') return 'application/x-ndjson; charset=UTF-8';
  if (f.startsWith('json')) return 'application/json; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=absent';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('rowbinary') || f === 'native' || f.startsWith('arrow') || f === 'parquet' || f === 'orc' || f === 'avro') return 'application/octet-stream';
  return 'text/plain; charset=UTF-8';
}

/** Minimal multipart/form-data parser: the client sends `query` and `param_*` parts. */
function parseMultipart(body: Buffer, contentType: string): Map<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) throw new ChError(1001, 'multipart/form-data without a boundary', 400);
  const boundary = m[1] ?? m[2];
  const parts = new Map<string, string>();
  const text = body.toString('utf8');
  for (const chunk of text.split(`--${boundary}`)) {
    if (chunk.startsWith('--') || chunk.trim() === '') continue;
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = chunk.slice(0, headerEnd);
    const nm = /name="([^"]*)"/i.exec(headers);
    if (!nm) continue;
    let value = chunk.slice(headerEnd + 4);
    if (value.endsWith('\r\n')) value = value.slice(0, -2);
    parts.set(nm[1], value);
  }
  return parts;
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ChError(1001, `request body exceeds ${limit} bytes`, 413);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const enc = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
  try {
    if (enc === '' || enc === 'identity') return raw;
    if (enc === 'gzip' || enc === 'x-gzip') return zlib.gunzipSync(raw);
    if (enc === 'deflate') return zlib.inflateSync(raw);
    if (enc === 'br') return zlib.brotliDecompressSync(raw);
  } catch (e) {
    throw new ChError(1001, `cannot decompress the request body (${enc}): ${(e as Error).message}`, 400);
  }
  throw new ChError(1001, `unsupported Content-Encoding: ${enc}`, 400);
}

export function parseRequest(url: URL, body: Buffer, contentType: string): ParsedRequest {
  const settings = new Map<string, string>();
  const params = new Map<string, string>();
  let urlQuery: string | undefined;
  let database: string | undefined;
  let defaultFormat = 'TabSeparated';
  let queryId = '';
  for (const [k, v] of url.searchParams) {
    if (k.startsWith('param_')) params.set(k.slice(6), v);
    else if (k === 'query') urlQuery = v;
    else if (k === 'query_id') queryId = v;
    else if (k === 'database') database = v;
    else if (k === 'default_format') defaultFormat = v;
    else if (NOT_SETTINGS.has(k)) continue;
    else {
      if (!SETTING_NAME.test(k)) throw new ChError(115, `Unknown setting '${k}'`, 400);
      settings.set(k, v);
    }
  }
  if (url.searchParams.get('decompress') === '1') {
    throw new ChError(1001, 'ClickHouse native compression of the request body (decompress=1) is not supported by this server; send gzip with Content-Encoding instead', 400);
  }

  let sql: string;
  let data: Buffer | undefined;
  if (/^multipart\/form-data/i.test(contentType)) {
    const parts = parseMultipart(body, contentType);
    for (const [k, v] of parts) if (k.startsWith('param_')) params.set(k.slice(6), v);
    sql = parts.get('query') ?? urlQuery ?? '';
  } else if (urlQuery !== undefined) {
    sql = urlQuery;
    if (body.length > 0) data = body;
  } else {
    // Statement in the body; an INSERT may carry its data after the FORMAT line.
    const head = body.subarray(0, Math.min(body.length, 1 << 16)).toString('utf8');
    const nl = head.indexOf('\n');
    if (nl >= 0 && /^\s*INSERT\b/i.test(head) && INSERT_WITH_DATA.test(head.slice(0, nl))) {
      sql = head.slice(0, nl);
      data = body.subarray(Buffer.byteLength(head.slice(0, nl + 1)));
    } else {
      sql = body.toString('utf8');
    }
  }
  if (sql.trim() === '') throw new ChError(62, 'Empty query', 400);
  if (!queryId) queryId = randomUUID();

  const ins = INSERT_WITH_DATA.exec(sql);
  let insertFormat: string | undefined;
  if (ins && data !== undefined) {
    insertFormat = ins[1];
  } else if (data !== undefined) {
    // ClickHouse appends the body to the `query` parameter.
    sql = `${sql}\n${data.toString('utf8')}`;
    data = undefined;
  }
  const fm = insertFormat ? undefined : TRAILING_FORMAT.exec(sql);
  const outputFormat = fm ? fm[1] : defaultFormat;
  return { queryId, sql, data, insertFormat, outputFormat, settings, params, database };
}

// ---------------------------------------------------------------------------
// the engine: a pool of chDB connections on one data directory

interface Slot {
  session: Session;
  /** Settings currently SET on this connection (name → value). */
  applied: Map<string, string>;
  database: string;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function quoteLiteral(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface EngineResult {
  bytes: Buffer;
  elapsedNs: number;
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
}

export class ChdbEngine {
  private readonly native = loadNative();
  private readonly free: Slot[] = [];
  private readonly waiters: ((s: Slot) => void)[] = [];
  private readonly paramLock = new Mutex();
  private created = 0;
  private closed = false;
  /** Engine version, known after {@link init}. */
  version = 'unknown';
  /**
   * Settings in force when a request sets nothing else: what a ClickHouse server
   * defaults to where chDB (clickhouse-local) differs. Applied with SET like the
   * request's own settings, so resetting a request's setting returns to these.
   */
  static readonly SERVER_DEFAULTS: ReadonlyMap<string, string> = new Map([['output_format_json_quote_64bit_integers', '1']]);

  constructor(readonly path: string, readonly poolSize = 4) {
    mkdirSync(path, { recursive: true });
    const first = this.newSlot();
    this.free.push(first);
  }

  /** Runs a first query (loads the data directory) and learns the engine version. */
  async init(): Promise<void> {
    const r = await this.execute(parseRequest(new URL('http://x/?query=SELECT%20version()'), Buffer.alloc(0), ''));
    this.version = r.bytes.toString('utf8').trim() || 'unknown';
  }

  private newSlot(): Slot {
    const session = new Session(this.path);
    this.created++;
    return { session, applied: new Map(), database: 'default' };
  }

  private async acquire(): Promise<Slot> {
    if (this.closed) throw new ChError(1001, 'server is shutting down', 503);
    const s = this.free.pop();
    if (s) return s;
    if (this.created < this.poolSize) return this.newSlot();
    return new Promise<Slot>((resolve) => this.waiters.push(resolve));
  }

  private release(slot: Slot, recycle: boolean): void {
    let s = slot;
    if (recycle || this.closed) {
      try {
        slot.session.close();
      } catch {
        /* ignore */
      }
      this.created--;
      if (this.closed) return;
      s = this.newSlot();
    }
    const w = this.waiters.shift();
    if (w) w(s);
    else this.free.push(s);
  }

  /** Bring the connection's settings to exactly `wanted` (others back to DEFAULT). */
  private async applySettings(slot: Slot, requested: Map<string, string>, database: string | undefined): Promise<void> {
    const wanted = new Map([...ChdbEngine.SERVER_DEFAULTS, ...requested]);
    const parts: string[] = [];
    for (const [k, v] of wanted) if (slot.applied.get(k) !== v) parts.push(`${k} = ${quoteLiteral(v)}`);
    for (const k of slot.applied.keys()) if (!wanted.has(k)) parts.push(`${k} = DEFAULT`);
    if (parts.length > 0) {
      // On failure the connection is recycled by the caller (state unknown).
      await this.native.QueryAsyncConnection(slot.session.connection, `SET ${parts.join(', ')}`, 'TabSeparated');
      slot.applied = new Map(wanted);
    }
    const db = database && database !== '' ? database : 'default';
    if (db !== slot.database) {
      if (!IDENT_NAME.test(db)) throw new ChError(81, `Database ${db} does not exist`);
      await this.native.QueryAsyncConnection(slot.session.connection, `USE ${db}`, 'TabSeparated');
      slot.database = db;
    }
  }

  /**
   * chDB's inline insert data is text: it cuts binary data at the first empty line ("\n\n"), which
   * RowBinary values contain at random. Binary data goes through a file instead (FROM INFILE), which
   * the engine reads as the bytes they are.
   */
  private async insertBinary(conn: unknown, sql: string, data: Buffer): Promise<NativeResult> {
    const path = join(tmpdir(), `viewtally-insert-${randomUUID()}.bin`);
    await writeFile(path, data);
    try {
      return await this.native.QueryAsyncConnection(conn, sql.replace(/\s+FORMAT\s+(\w+)\s*$/i, ` FROM INFILE '${path}' FORMAT $1`), 'TabSeparated');
    } finally {
      await rm(path, { force: true });
    }
  }

  async execute(req: ParsedRequest): Promise<EngineResult> {
    const slot = await this.acquire();
    let recycle = STARTS_WITH_STATE_CHANGE.test(req.sql);
    try {
      try {
        await this.applySettings(slot, req.settings, req.database);
      } catch (e) {
        recycle = true;
        throw e;
      }
      const conn = slot.session.connection;
      let raw: NativeResult;
      if (req.data !== undefined && req.insertFormat !== undefined) {
        if (req.data.length === 0) {
          raw = { elapsed: 0, rowsWritten: 0, bytesWritten: 0 };
        } else {
          raw = BINARY_FORMAT.test(req.insertFormat) ? await this.insertBinary(conn, req.sql.trim(), req.data) : await this.native.InsertRawAsyncConnection(conn, req.sql.trim(), req.data, LINE_FORMAT.test(req.insertFormat));
        }
      } else if (req.params.size > 0) {
        const bound = Object.fromEntries(req.params);
        raw = await this.paramLock.run(() => this.native.QueryAsyncConnection(conn, req.sql, req.outputFormat, bound));
      } else {
        raw = await this.native.QueryAsyncConnection(conn, req.sql, req.outputFormat);
      }
      const bytes = raw.bytes ? Buffer.from(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength) : Buffer.alloc(0);
      return {
        bytes,
        elapsedNs: Math.round((raw.elapsed ?? 0) * 1e9),
        readRows: raw.rowsRead ?? 0,
        readBytes: raw.bytesRead ?? 0,
        writtenRows: raw.rowsWritten ?? 0,
        writtenBytes: raw.bytesWritten ?? 0,
      };
    } finally {
      this.release(slot, recycle);
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.free.splice(0)) {
      try {
        s.session.close();
      } catch {
        /* ignore */
      }
    }
  }
}

// ---------------------------------------------------------------------------
// HTTP

export interface ClickHouseHttpServerOptions {
  path: string;
  port: number;
  host?: string;
  poolSize?: number;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningClickHouseHttpServer {
  port: number;
  engine: ChdbEngine;
  close(graceMs?: number): Promise<void>;
}

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
      if (!(err instanceof ChError) && !/^\s*Code: \d+\./.test(err instanceof Error ? err.message : '')) {
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

// ---------------------------------------------------------------------------
// CLI

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

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolvePath(process.argv[1])).href;
if (invokedDirectly) {
  main().catch((e) => {
    process.stderr.write(`${new Date().toISOString()} clickhouse-http-server failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
