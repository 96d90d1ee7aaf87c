/**
 * Throughput of the chDB HTTP adapter through @clickhouse/client, on a server
 * process of its own (temp data dir, free port):
 *
 *   npx tsx infra/clickhouse-http-bench.ts [--seconds 3]
 *
 * Measures small inserts (1 row, with an insert_deduplication_token) and point
 * selects, one at a time and with 8 in flight, and rows/s of 10 000-row inserts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouseClient } from './clickhouse-client.ts';
import { clickHouseServerCommand } from './launch.ts';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 3) || 3;


async function timed(name: string, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let n = 0;
  const deadline = Date.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await op(n++);
    }),
  );
  const s = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(44)} ${(n / s).toFixed(0).padStart(7)} req/s  (${n} in ${s.toFixed(1)} s, ${concurrency} in flight)`);
}

const dir = mkdtempSync(join(tmpdir(), 'vt-chbench-'));
const port = await freePort();
const cmd = clickHouseServerCommand(join(dir, 'data'), port);
const fd = openSync(join(dir, 'server.log'), 'a');
const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', fd, fd] });
const url = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await (await fetch(`${url}/ping`)).text()) === 'Ok.\n') break;
    } catch {
      if (i > 300) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const ch = createClickHouseClient(url);
  await ch.command({ query: 'CREATE TABLE b (k String, v UInt64) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 1000' });
  let tok = 0;
  await timed('insert 1 row + dedup token, serial', 1, () =>
    ch.insert({ table: 'b', format: 'JSONEachRow', values: [{ k: 'a', v: 1 }], clickhouse_settings: { insert_deduplication_token: `t${tok++}` } }),
  );
  await timed('insert 1 row + dedup token, concurrent', 8, () =>
    ch.insert({ table: 'b', format: 'JSONEachRow', values: [{ k: 'a', v: 1 }], clickhouse_settings: { insert_deduplication_token: `t${tok++}` } }),
  );
  await timed('select count() WHERE k = {k:String}, serial', 1, async () =>
    (await ch.query({ query: 'SELECT count() AS n FROM b WHERE k = {k:String}', format: 'JSONEachRow', query_params: { k: 'a' } })).json(),
  );
  await timed('select count() WHERE k = {k:String}, concurrent', 8, async () =>
    (await ch.query({ query: 'SELECT count() AS n FROM b WHERE k = {k:String}', format: 'JSONEachRow', query_params: { k: 'a' } })).json(),
  );
  await timed('select sum(v) (no params), concurrent', 8, async () => (await ch.query({ query: 'SELECT sum(v) AS s FROM b', format: 'JSONEachRow' })).json());
  const rows = Array.from({ length: 10_000 }, (_, i) => ({ k: `k${i % 1000}`, v: i }));
  let batches = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await ch.insert({ table: 'b', format: 'JSONEachRow', values: rows });
    batches++;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`${'insert 10 000-row JSONEachRow blocks, serial'.padEnd(44)} ${((batches * rows.length) / s).toFixed(0).padStart(7)} rows/s (${batches} blocks)`);
  await ch.close();
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
