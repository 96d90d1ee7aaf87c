/**
 * An HTTP request of `@clickhouse/client` turned into one statement: the SQL (URL
 * `query`, body, or multipart form), insert data that follows it, the output
 * format, settings and bound parameters from the URL.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { ChError } from './clickhouse-http-errors.ts';

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

/** `INSERT INTO t [(c1, c2)] [SETTINGS …] FORMAT Fmt` whose data follows separately. */
const INSERT_WITH_DATA = /^\s*INSERT\s+INTO\s+(?!FUNCTION\b)(?:TABLE\s+)?(?:`[^`]*`|"[^"]*"|[\w.])+\s*(?:\([^()]*\))?\s*(?:SETTINGS\s+[\s\S]*?)?FORMAT\s+(\w+)\s*$/i;
/** The output format a statement asks for, when it ends with `FORMAT X`. */
const TRAILING_FORMAT = /\bFORMAT\s+(\w+)\s*(?:SETTINGS\s+[^;]*?)?\s*;?\s*$/i;

/** One request as the engine runs it. */
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

/** The request body, decompressed per `Content-Encoding`, refused beyond `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
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

/** The statement, data, format, settings and parameters of a request. */
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
