/**
 * The chDB HTTP adapter driven through @clickhouse/client itself, against a real
 * server process of its own (temp data dir, free port), so it neither needs nor
 * disturbs the shared infra.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ClickHouseError, createClient, type ClickHouseClient } from '@clickhouse/client';
import { createClickHouseClient } from './clickhouse-client.ts';
import { clickHouseServerCommand } from './launch.ts';


async function waitForPing(url: string, child: ChildProcess, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${readFileSync(logFile, 'utf8')}`);
    try {
      const r = await fetch(`${url}/ping`);
      if (r.ok && (await r.text()) === 'Ok.\n') return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer /ping: ${readFileSync(logFile, 'utf8')}`);
}

let dir: string;
let url: string;
let child: ChildProcess;
let logFile: string;
let ch: ClickHouseClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vt-chhttp-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'a');
  const cmd = clickHouseServerCommand(join(dir, 'data'), port);
  child = spawn(cmd.command, cmd.args, { stdio: ['ignore', fd, fd] });
  await waitForPing(url, child, logFile);
  ch = createClickHouseClient(url);
});

afterAll(async () => {
  await ch?.close();
  if (child && child.exitCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('chDB behind the ClickHouse HTTP interface', () => {
  it('answers ping (plain /ping and SELECT)', async () => {
    expect(await ch.ping()).toEqual({ success: true });
    expect((await ch.ping({ select: true })).success).toBe(true);
    const r = await fetch(`${url}/ping`);
    expect(await r.text()).toBe('Ok.\n');
  });

  it('creates a table, inserts JSONEachRow, selects JSONEachRow and JSON', async () => {
    await ch.command({ query: 'CREATE TABLE t1 (id UInt64, name String, ts DateTime, tags Array(String)) ENGINE = MergeTree ORDER BY id' });
    const ins = await ch.insert({
      table: 't1',
      format: 'JSONEachRow',
      values: [
        { id: 1, name: 'a', ts: '2024-05-01T10:00:00Z', tags: ['x', 'y'] },
        { id: 2, name: "b'q\\\t\n", ts: '2024-05-01 10:01:00', tags: [] },
        { id: 3, name: 'ç€', ts: 1714557720, tags: ['z'] },
      ],
    });
    expect(ins.executed).toBe(true);
    expect(ins.summary?.written_rows).toBe('3');

    const rows = await (await ch.query({ query: 'SELECT id, name, ts, tags FROM t1 ORDER BY id', format: 'JSONEachRow' })).json<{ id: string; name: string; ts: string; tags: string[] }>();
    expect(rows).toEqual([
      { id: '1', name: 'a', ts: '2024-05-01 10:00:00', tags: ['x', 'y'] },
      { id: '2', name: "b'q\\\t\n", ts: '2024-05-01 10:01:00', tags: [] },
      { id: '3', name: 'ç€', ts: '2024-05-01 10:02:00', tags: ['z'] },
    ]);

    const rs = await ch.query({ query: 'SELECT count() AS c, sum(id) AS s FROM t1', format: 'JSON' });
    expect(rs.response_headers['x-clickhouse-format']).toBe('JSON');
    expect(rs.query_id).toBe(rs.response_headers['x-clickhouse-query-id']);
    const doc = await rs.json<{ c: string; s: string }>();
    expect(doc.data).toEqual([{ c: '3', s: '6' }]);
    expect(doc.meta?.map((m) => m.type)).toEqual(['UInt64', 'UInt64']);

    const csv = await (await ch.query({ query: 'SELECT id, name FROM t1 WHERE id = 1', format: 'CSV' })).text();
    expect(csv).toBe('1,"a"\n');
  });

  it('inserts with an explicit column list and other formats', async () => {
    await ch.command({ query: 'CREATE TABLE t2 (a UInt32, b String DEFAULT \'dflt\', c UInt8 DEFAULT 7) ENGINE = MergeTree ORDER BY a' });
    await ch.insert({ table: 't2', columns: ['a', 'c'], format: 'JSONEachRow', values: [{ a: 1, c: 9 }] });
    await ch.insert({ table: 't2', format: 'CSV', values: Readable.from(['2,"two",2\n3,"three",3\n'], { objectMode: false }) });
    await ch.insert({ table: 't2', format: 'TabSeparated', values: Readable.from(['4\tfour\t4\n'], { objectMode: false }) });
    await ch.exec({ query: 'INSERT INTO t2 VALUES (5, \'five\', 5)' });
    const rows = await (await ch.query({ query: 'SELECT a, b, c FROM t2 ORDER BY a', format: 'JSONCompactEachRow' })).json<[number, string, number][]>();
    expect(rows).toEqual([
      [1, 'dflt', 9],
      [2, 'two', 2],
      [3, 'three', 3],
      [4, 'four', 4],
      [5, 'five', 5],
    ]);
  });

  it('inserts RowBinary byte for byte, empty lines and every byte value included, deduplicated by token', async () => {
    await ch.command({ query: 'CREATE TABLE rb (s String, n UInt64) ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100' });
    // Text-oriented paths cut binary data at the first "\n\n" or NUL: put both, and every byte, inside the values.
    const value = Buffer.concat([Buffer.from('a\n\nb\0c'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 255))]);
    const row = (n: number) => {
      const len: number[] = [];
      for (let x = value.length; ; x >>>= 7) {
        if (x < 0x80) {
          len.push(x);
          break;
        }
        len.push((x & 0x7f) | 0x80);
      }
      const num = Buffer.alloc(8);
      num.writeBigUInt64LE(BigInt(n));
      return Buffer.concat([Buffer.from(len), value, num]);
    };
    const body = Buffer.concat([row(1), row(2)]);
    for (const token of ['rb/1', 'rb/1']) {
      const r = await ch.exec({ query: 'INSERT INTO rb (s, n) FORMAT RowBinary', values: Readable.from([body]), clickhouse_settings: { insert_deduplication_token: token } });
      r.stream.resume();
    }
    const sha = createHash('sha256').update(value).digest('hex').toUpperCase();
    const rows = await (await ch.query({ query: 'SELECT n, length(s) AS len, hex(SHA256(s)) = {h:String} AS same FROM rb ORDER BY n', query_params: { h: sha }, format: 'JSONEachRow' })).json();
    expect(rows).toEqual([
      { n: '1', len: String(value.length), same: 1 },
      { n: '2', len: String(value.length), same: 1 },
    ]);
  });

  it('binds query_params server-side: String, UInt64, DateTime, Array(String)', async () => {
    const rs = await ch.query({
      query: 'SELECT {s:String} AS s, {n:UInt64} AS n, {d:DateTime} AS d, {arr:Array(String)} AS arr, {z:Nullable(String)} AS z, length({arr:Array(String)}) AS len',
      format: 'JSONEachRow',
      query_params: {
        s: "it's a \\ back\tslash\nline",
        n: '18446744073709551615',
        d: new Date('2024-05-01T10:02:00Z'),
        arr: ['a', "b'c", 'd\\e'],
        z: null,
      },
    });
    expect(await rs.json()).toEqual([
      { s: "it's a \\ back\tslash\nline", n: '18446744073709551615', d: '2024-05-01 10:02:00', arr: ['a', "b'c", 'd\\e'], z: null, len: '3' },
    ]);
    const filtered = await (
      await ch.query({
        query: 'SELECT id FROM t1 WHERE name IN {names:Array(String)} AND ts >= {from:DateTime} ORDER BY id',
        format: 'JSONEachRow',
        query_params: { names: ['a', 'ç€'], from: '2024-05-01 10:00:00' },
      })
    ).json();
    expect(filtered).toEqual([{ id: '1' }, { id: '3' }]);
  });

  it('binds large params sent as multipart/form-data', async () => {
    const big = Array.from({ length: 3000 }, (_, i) => `name-${i}`);
    const client = createClient({ url, compression: { request: false, response: false }, use_multipart_params: true });
    try {
      const rows = await (await client.query({ query: 'SELECT length({xs:Array(String)}) AS n, {xs:Array(String)}[2999] AS x', format: 'JSONEachRow', query_params: { xs: big } })).json();
      expect(rows).toEqual([{ n: '3000', x: 'name-2998' }]);
    } finally {
      await client.close();
    }
  });

  it('stores a block once when the same insert_deduplication_token is sent twice', async () => {
    await ch.command({ query: 'CREATE TABLE dd (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000' });
    const rows = [
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
    ];
    for (const token of ['p0:0-99', 'p0:0-99', 'p0:100-199', 'p0:0-99']) {
      await ch.insert({ table: 'dd', format: 'JSONEachRow', values: rows, clickhouse_settings: { insert_deduplication_token: token } });
    }
    // A request without a token right after one with a token is not deduplicated by a
    // leftover token (which would drop this new block).
    await ch.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'c', v: 100 }] });
    const q = async () => (await ch.query({ query: 'SELECT count() AS n, sum(v) AS s FROM dd', format: 'JSONEachRow' })).json();
    expect(await q()).toEqual([{ n: '5', s: '106' }]);
    // Untokened blocks are deduplicated by content hash; in ClickHouse 26.x
    // `deduplicate_insert` (not `insert_deduplicate`, which it overrides) turns that off.
    await ch.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'c', v: 100 }] });
    await ch.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'c', v: 100 }], clickhouse_settings: { insert_deduplicate: 0 } });
    expect(await q()).toEqual([{ n: '5', s: '106' }]);
    await ch.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'c', v: 100 }], clickhouse_settings: { deduplicate_insert: 'disable' } as never });
    expect(await q()).toEqual([{ n: '6', s: '206' }]);
  });

  it('deduplicates through a materialized-view chain (MergeTree and Null sources)', async () => {
    for (const q of [
      'CREATE TABLE src (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000',
      'CREATE TABLE mid (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000',
      'CREATE TABLE dst (k String, v UInt64) ENGINE = SummingMergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000',
      'CREATE MATERIALIZED VIEW src_mid TO mid AS SELECT k, v * 10 AS v FROM src',
      'CREATE MATERIALIZED VIEW mid_dst TO dst AS SELECT k, sum(v) AS v FROM mid GROUP BY k',
      'CREATE TABLE nsrc (k String, v UInt64) ENGINE = Null',
      'CREATE TABLE ndst (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000',
      'CREATE MATERIALIZED VIEW n_mv TO ndst AS SELECT k, sum(v) AS v FROM nsrc GROUP BY k',
    ]) {
      await ch.command({ query: q });
    }
    const rows = [
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
      { k: 'a', v: 3 },
    ];
    for (const table of ['src', 'nsrc']) {
      for (const token of ['w1', 'w1', 'w2', 'w1', 'w2']) {
        await ch.insert({
          table,
          format: 'JSONEachRow',
          values: rows,
          clickhouse_settings: { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
        });
      }
    }
    const q = async (sql: string) => (await ch.query({ query: sql, format: 'JSONEachRow' })).json();
    expect(await q('SELECT count() AS n, sum(v) AS s FROM src')).toEqual([{ n: '6', s: '12' }]);
    expect(await q('SELECT count() AS n, sum(v) AS s FROM mid')).toEqual([{ n: '6', s: '120' }]);
    expect(await q('SELECT k, sum(v) AS s FROM dst GROUP BY k ORDER BY k')).toEqual([
      { k: 'a', s: '80' },
      { k: 'b', s: '40' },
    ]);
    expect(await q('SELECT k, sum(v) AS s FROM ndst GROUP BY k ORDER BY k')).toEqual([
      { k: 'a', s: '8' },
      { k: 'b', s: '4' },
    ]);
  });

  it('raises ClickHouseError with the engine code: syntax error 62, unknown table 60, unknown setting 115', async () => {
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e;
      }
      throw new Error('expected a failure');
    };
    const syntax = await err(ch.query({ query: 'SELEC 1', format: 'JSONEachRow' }));
    expect(syntax).toBeInstanceOf(ClickHouseError);
    expect(syntax).toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });

    const unknown = await err(ch.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' }));
    expect(unknown).toBeInstanceOf(ClickHouseError);
    expect(unknown).toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });

    const insertUnknown = await err(ch.insert({ table: 'no_such_table', format: 'JSONEachRow', values: [{ a: 1 }] }));
    expect(insertUnknown).toMatchObject({ code: '60' });

    const badRow = await err(ch.insert({ table: 't1', format: 'JSONEachRow', values: [{ id: 'not a number' }] }));
    expect(badRow).toBeInstanceOf(ClickHouseError);

    const setting = await err(ch.query({ query: 'SELECT 1', format: 'JSONEachRow', clickhouse_settings: { no_such_setting_xyz: 1 } as never }));
    expect(setting).toMatchObject({ code: '115', type: 'UNKNOWN_SETTING' });

    // raw HTTP: status and header
    const r = await fetch(`${url}/?query_id=q1`, { method: 'POST', body: 'SELECT * FROM no_such_table' });
    expect(r.status).toBe(500);
    expect(r.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await r.text()).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)/);

    // and the server is still fine afterwards
    expect(await (await ch.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' })).json()).toEqual([{ one: 1 }]);
  });

  it('ignores client-side URL parameters and applies settings only to their request', async () => {
    const r = await fetch(
      `${url}/?query_id=x&database=default&default_format=JSONEachRow&enable_http_compression=0&session_id=s1&user=default&password=&wait_end_of_query=1&max_threads=1&async_insert=0`,
      { method: 'POST', body: "SELECT getSetting('max_threads') = 1 AS m, toUInt64(7) AS u" },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    // UInt64 quoted in JSON, as a ClickHouse server does by default
    expect(await r.json()).toEqual({ m: 1, u: '7' });
    // next requests on any pooled connection see the default again
    const vals = await Promise.all(
      Array.from({ length: 8 }, async () => (await ch.query({ query: "SELECT getSetting('max_threads') != 1 AS ok", format: 'JSONEachRow' })).json()),
    );
    for (const v of vals) expect(v).toEqual([{ ok: 1 }]);
    // a statement via GET ?query=
    const g = await fetch(`${url}/?query=${encodeURIComponent('SELECT 40+2 AS x FORMAT CSV')}`);
    expect(await g.text()).toBe('42\n');
    // the insert statement and its data in the body
    const b = await fetch(`${url}/`, { method: 'POST', body: 'INSERT INTO t2 FORMAT CSV\n6,"six",6\n' });
    expect(b.status).toBe(200);
    expect(await (await ch.query({ query: 'SELECT b FROM t2 WHERE a = 6', format: 'JSONEachRow' })).json()).toEqual([{ b: 'six' }]);
  });

  it('accepts gzip-compressed request bodies', async () => {
    const gz = createClient({ url, compression: { request: true, response: false } });
    try {
      await gz.insert({ table: 't2', format: 'JSONEachRow', values: [{ a: 7, b: 'seven', c: 7 }] });
    } finally {
      await gz.close();
    }
    const r = await fetch(`${url}/?query=${encodeURIComponent('SELECT b FROM t2 WHERE a = 7 FORMAT TabSeparated')}`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'gzip' },
      body: gzipSync(Buffer.alloc(0)),
    });
    expect(await r.text()).toBe('seven\n');
    const bad = await fetch(`${url}/`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: 'not gzip' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-clickhouse-exception-code')).toBe('1001');
  });

  it('keeps concurrent inserts and selects correct', async () => {
    await ch.command({ query: 'CREATE TABLE conc (w UInt32, i UInt32) ENGINE = MergeTree ORDER BY (w, i)' });
    const workers = 8;
    const perWorker = 40;
    const clients = Array.from({ length: 4 }, () => createClickHouseClient(url));
    try {
      const checks: boolean[] = [];
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          const c = clients[w % clients.length];
          for (let i = 0; i < perWorker; i++) {
            await c.insert({
              table: 'conc',
              format: 'JSONEachRow',
              values: [{ w, i }],
              clickhouse_settings: { insert_deduplication_token: `w${w}-i${i}` },
            });
            const got = await (await c.query({ query: 'SELECT {w:UInt32} * 1000 + {i:UInt32} AS x', format: 'JSONEachRow', query_params: { w, i } })).json<{ x: string }>();
            checks.push(Number(got[0].x) === w * 1000 + i);
          }
        }),
      );
      expect(checks.length).toBe(workers * perWorker);
      expect(checks.every(Boolean)).toBe(true);
      const r = await (await ch.query({ query: 'SELECT count() AS n, uniqExact(w, i) AS u FROM conc', format: 'JSONEachRow' })).json();
      expect(r).toEqual([{ n: String(workers * perWorker), u: String(workers * perWorker) }]);

      // settings of concurrent requests stay with their own request
      const seen = await Promise.all(
        Array.from({ length: 60 }, async (_, k) => {
          const c = clients[k % clients.length];
          const want = k % 3 === 0 ? undefined : (k % 3) + 4; // default, 5 or 6
          const rows = await (
            await c.query({
              query: "SELECT toUInt64(getSetting('max_threads')) AS m, getSetting('insert_deduplication_token') AS t",
              format: 'JSONEachRow',
              clickhouse_settings: want === undefined ? {} : { max_threads: want, insert_deduplication_token: `k${k}` },
            })
          ).json<{ m: string; t: string }>();
          return want === undefined ? rows[0].t === '' && rows[0].m !== '5' && rows[0].m !== '6' : rows[0].m === String(want) && rows[0].t === `k${k}`;
        }),
      );
      expect(seen.every(Boolean)).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('survives bad requests', async () => {
    const bads = [
      fetch(`${url}/nope`),
      fetch(`${url}/`, { method: 'PUT', body: 'x' }),
      fetch(`${url}/`, { method: 'POST', body: '' }),
      fetch(`${url}/?query=${encodeURIComponent('INSERT INTO t2 FORMAT JSONEachRow')}`, { method: 'POST', body: '{"a": [broken' }),
      fetch(`${url}/?query=${encodeURIComponent('INSERT INTO t2 FORMAT NoSuchFormat')}`, { method: 'POST', body: 'x' }),
      fetch(`${url}/?bad-setting-name!=1`, { method: 'POST', body: 'SELECT 1' }),
      fetch(`${url}/?param_x=1`, { method: 'POST', body: 'SELECT {x:UInt8' }),
      fetch(`${url}/`, { method: 'POST', body: 'SELECT {y:UInt8}' }),
      fetch(`${url}/`, { method: 'POST', headers: { 'Content-Type': 'multipart/form-data' }, body: 'x' }),
    ];
    const statuses = (await Promise.all(bads)).map((r) => r.status);
    for (const s of statuses) expect(s).toBeGreaterThanOrEqual(400);
    expect(child.exitCode).toBeNull();
    expect(await ch.ping()).toEqual({ success: true });
  });

  it('stops gracefully on SIGTERM', async () => {
    await ch.close();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(readFileSync(logFile, 'utf8')).toMatch(/stopped/);
  });
});

describe('embedded client (chdb/connection)', () => {
  it('runs the same statements in-process, with the same JSON conventions', async () => {
    const edir = mkdtempSync(join(tmpdir(), 'vt-chemb-'));
    const e = createClickHouseClient(`embedded:${edir}`);
    try {
      await e.command({ query: 'CREATE TABLE dd (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100' });
      for (const token of ['t', 't']) {
        await e.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'a', v: 1 }], clickhouse_settings: { insert_deduplication_token: token } });
      }
      await e.insert({ table: 'dd', format: 'JSONEachRow', values: [{ k: 'b', v: 2 }] });
      const r = await (await e.query({ query: 'SELECT count() AS n, sum(v) AS s FROM dd WHERE k IN {ks:Array(String)}', format: 'JSONEachRow', query_params: { ks: ['a', 'b'] } })).json();
      expect(r).toEqual([{ n: '2', s: '3' }]);
      const err = await e.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' }).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(ClickHouseError);
      expect(err).toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
    } finally {
      await e.close();
      rmSync(edir, { recursive: true, force: true });
    }
  });
});
