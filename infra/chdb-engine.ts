/**
 * The engine behind the HTTP server: a small pool of chDB connections to one data
 * directory (same-path connections coexist in chDB and each keeps its own
 * settings). A request holds its connection exclusively, so the URL settings it
 * applies (`SET …`) cannot leak into another request; they are reset to DEFAULT
 * (or recycled) before the connection serves a request with other settings.
 * Queries with bound parameters are serialized process-wide: chDB's parameter
 * state is not isolated per connection (chdb-node serializes them too).
 */
import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { loadNative, type NativeResult } from './chdb-native.ts';
import { BINARY_FORMAT, insertViaFile } from './binary-insert.ts';
import { ChError } from './clickhouse-http-errors.ts';
import { parseRequest, type ParsedRequest } from './clickhouse-http-request.ts';

const IDENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Insert formats whose data is lines of text (binary ones go to the engine as a file: binary-insert.ts). */
const LINE_FORMAT = /^(JSONEachRow|JSONCompactEachRow|JSONStringsEachRow|TabSeparated|TSV|NDJSON|JSONLines)$/i;
const STARTS_WITH_STATE_CHANGE = /^\s*(?:SET|USE)\b/i;

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

/** What one statement returned, with the figures of `X-ClickHouse-Summary`. */
export interface EngineResult {
  bytes: Buffer;
  elapsedNs: number;
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
}

/** The pool of chDB connections on one data directory; one request at a time per connection. */
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
          raw = BINARY_FORMAT.test(req.insertFormat) ? await insertViaFile(req.sql, req.data, (sql) => this.native.QueryAsyncConnection(conn, sql, 'TabSeparated')) : await this.native.InsertRawAsyncConnection(conn, req.sql.trim(), req.data, LINE_FORMAT.test(req.insertFormat));
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
