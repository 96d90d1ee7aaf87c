/**
 * Cold export on the local ClickHouse server (a database of this test's own): the Parquet files
 * ClickHouse writes read back to the same views and unique viewers as the tables.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportRollup } from './export.ts';
import { exportCommand } from '../pipeline/export-command.ts';
import { createTestDatabase, insertMinuteRows, queryRows, type MinuteRowInput, type TestDatabase } from './test-database.ts';

let db: TestDatabase;
let dir: string;
const DAY = 86_400_000;
// two UTC months around now (the minute tier keeps 7 days, so minute rows stay near now)
const NOW_DAY = Math.floor(Date.now() / DAY) * DAY;
const rows: MinuteRowInput[] = [];

beforeAll(async () => {
  db = await createTestDatabase('export');
  dir = mkdtempSync(join(tmpdir(), 'vt-export-'));
  for (let i = 0; i < 200; i++) {
    const t = NOW_DAY - 3 * DAY + ((i * 7919) % (5 * 24 * 60)) * 60_000;
    rows.push({
      minute: new Date(t).toISOString(), video_id: `v${i % 9}`, channel_id: `c${i % 3}`, category: 'k', country: ['US', 'FR'][i % 2],
      device: 'tv', traffic_source: 'direct', views: 1 + (i % 4), viewers: [`u${i % 37}`, `u${(i * 3) % 41}`],
    });
  }
  // and day rows further back, in an earlier month
  for (let i = 0; i < 40; i++) {
    rows.push({ ...rows[i], minute: new Date(NOW_DAY - 60 * DAY + i * 3_600_000).toISOString() });
  }
  await insertMinuteRows(db.client, 'export/0', rows.slice(0, 120));
  await insertMinuteRows(db.client, 'export/1', rows.slice(120));
});
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function tableTotals(table: string, column: string, from: string, to: string) {
  const [r] = await queryRows<{ views: string; uv: string }>(
    db.client,
    `SELECT sum(views) AS views, uniqCombinedMerge(15)(unique_viewers) AS uv FROM ${table} WHERE ${column} >= {from:String} AND ${column} < {to:String}`,
    { from, to },
  );
  return { views: Number(r.views), uv: Number(r.uv) };
}

async function fileTotals(glob: string) {
  const [r] = await queryRows<{ views: string; uv: string; n: string }>(
    db.client,
    `SELECT sum(views) AS views, count() AS n,
            uniqCombinedMerge(15)(CAST(base64Decode(unique_viewers_state), 'AggregateFunction(uniqCombined(15), String)')) AS uv
     FROM file({glob:String}, 'Parquet')`,
    { glob },
  );
  return { views: Number(r.views), uv: Number(r.uv), rows: Number(r.n) };
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('exportRollup', () => {
  it('day rows: one file per month, read back to the table totals and re-mergeable uniques', async () => {
    const from = iso(NOW_DAY - 90 * DAY);
    const to = iso(NOW_DAY + 3 * DAY);
    const out = join(dir, 'day');
    const progress: string[] = [];
    const summary = await exportRollup(db.client, { granularity: 'day', from, to, toDir: out, onProgress: (p) => progress.push(p.file.period) });
    const expected = await tableTotals('views_day', 'day', from, to);
    expect(summary.views).toBe(expected.views);
    expect(summary.views).toBe(rows.reduce((s, r) => s + r.views, 0));
    const files = readdirSync(out).sort();
    expect(files).toEqual(summary.files.map((f) => f.location.slice(out.length + 1)).sort());
    expect(files.every((f) => /^views_day_\d{4}-\d{2}\.parquet$/.test(f))).toBe(true);
    expect(progress.length).toBe(files.length);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const back = await fileTotals(`${out}/*.parquet`);
    expect({ views: back.views, uv: back.uv }).toEqual(expected);
    expect(back.rows).toBe(summary.rows);
  });

  it('minute and hour rows: one file per day and per month', async () => {
    const from = iso(NOW_DAY - 3 * DAY);
    const to = iso(NOW_DAY + 3 * DAY);
    for (const [granularity, table, column, pattern] of [
      ['minute', 'views_minute', 'minute', /^views_minute_\d{4}-\d{2}-\d{2}\.parquet$/],
      ['hour', 'views_hour', 'hour', /^views_hour_\d{4}-\d{2}\.parquet$/],
    ] as const) {
      const out = join(dir, granularity);
      const summary = await exportRollup(db.client, { granularity, from, to, toDir: out });
      expect(readdirSync(out).every((f) => pattern.test(f))).toBe(true);
      const expected = await tableTotals(table, column, `${from} 00:00:00`, `${to} 00:00:00`);
      const back = await fileTotals(`${out}/*.parquet`);
      expect({ views: back.views, uv: back.uv }).toEqual(expected);
      expect(summary.views).toBe(expected.views);
    }
    expect(readdirSync(join(dir, 'minute')).length).toBe(5);
  });

  it('refuses bad options', async () => {
    await expect(exportRollup(db.client, { granularity: 'week' as never, from: '2026-01-01', to: '2026-02-01', toDir: dir })).rejects.toThrow(/granularity/);
    await expect(exportRollup(db.client, { granularity: 'day', from: '2026-02-01', to: '2026-01-01', toDir: dir })).rejects.toThrow(/to: must be after from/);
    await expect(exportRollup(db.client, { granularity: 'day', from: '2026-01-01', to: '2026-02-01' })).rejects.toThrow(/exactly one of toDir and toUrl/);
    await expect(exportRollup(db.client, { granularity: 'day', from: '2026-01-01', to: '2026-02-01', toUrl: "file:///etc/x' --" })).rejects.toThrow(/toUrl/);
  });
});

describe('viewtally export', () => {
  it('writes the files, progress on stderr and a JSON summary on stdout', async () => {
    const out = join(dir, 'cli');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void stdout.push(line));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
    try {
      await exportCommand().parseAsync(
        ['--granularity', 'day', '--from', iso(NOW_DAY - 90 * DAY), '--to', iso(NOW_DAY + 3 * DAY), '--to-dir', out, '--clickhouse', db.target],
        { from: 'user' },
      );
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const summary = JSON.parse(stdout.at(-1)!) as { views: number; files: unknown[] };
    expect(summary.views).toBe(rows.reduce((s, r) => s + r.views, 0));
    expect(stderr.filter((l) => /^\[\d+\/\d+\] .*views_day_.*\.parquet: \d+ rows, \d+ views/.test(l)).length).toBe(summary.files.length);
    expect((await fileTotals(`${out}/*.parquet`)).views).toBe(summary.views);
  });
});
