import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchCacheDir } from './bench-load.ts';
import { startChild } from './bench-child.ts';

/** One dashboard query's latency, as clickhouse/dashboard-latency.bench.ts measures it. */
export interface DashboardQuery {
  query: string;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** The dashboard latency harness's table for one history size. */
export interface DashboardResult {
  minuteRows: number;
  hourRows: number;
  runs: number;
  target: string;
  queries: DashboardQuery[];
  /** The slowest p95 among the 30-day queries (the target's measure). */
  worst30DayP95Ms: number;
  measuredAt: string;
  /** How busy the machine was (recorded with a separate `--dashboard-only` measure). */
  machine?: { loadAverageAtStart: number[]; loadAverageAtEnd?: number[] };
}

/**
 * Runs the other harness (clickhouse/dashboard-latency.bench.ts) as it is, in its own process, on
 * an embedded chDB directory of its own under the bench cache (generated once per row count, then
 * reused), and reads back its table: the dashboard queries over the generated history.
 */
export async function runDashboardLatency(ctx: { rows: number; runs: number; log: (line: string) => void }): Promise<DashboardResult> {
  const dir = join(benchCacheDir(), `dashboard-${ctx.rows}`);
  ctx.log(`dashboard: ${ctx.rows} minute rows${existsSync(dir) ? ' (reused)' : ' (generating)'}, ${ctx.runs} runs per query`);
  const lines: string[] = [];
  const child = startChild('clickhouse/dashboard-latency.bench.ts', null, {
    name: `dashboard-${ctx.rows}`,
    rawArgs: ['--clickhouse', `embedded:${dir}`, '--rows', String(ctx.rows), '--days', '30', '--runs', String(ctx.runs)],
    onLine: (line) => lines.push(line),
  });
  await child.done;
  return parseDashboardTable(lines.join('\n'));
}

/** Parses the harness's stdout: a header, one row per query (p50, p95, max in ms), a closing line with the row counts. */
export function parseDashboardTable(stdout: string): DashboardResult {
  const queries: DashboardQuery[] = [];
  let minuteRows = 0;
  let hourRows = 0;
  let runs = 0;
  let target = '';
  for (const line of stdout.split('\n')) {
    const row = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (row && !line.startsWith('query')) queries.push({ query: row[1].trim(), p50Ms: Number(row[2]), p95Ms: Number(row[3]), maxMs: Number(row[4]) });
    const tail = /^\(([\d,]+) minute rows, ([\d,]+) hour rows, (\d+) runs each, target (.+)\)$/.exec(line.trim());
    if (tail) {
      minuteRows = Number(tail[1].replaceAll(',', ''));
      hourRows = Number(tail[2].replaceAll(',', ''));
      runs = Number(tail[3]);
      target = tail[4];
    }
  }
  if (queries.length === 0 || minuteRows === 0) throw new Error(`dashboard harness: no result table in its output:\n${stdout.slice(-2000)}`);
  const thirtyDay = queries.filter((q) => / 30 d/.test(q.query));
  return {
    minuteRows,
    hourRows,
    runs,
    target,
    queries,
    worst30DayP95Ms: Math.max(...(thirtyDay.length > 0 ? thirtyDay : queries).map((q) => q.p95Ms)),
    measuredAt: new Date().toISOString(),
  };
}

/** The 100 M-row figure, measured separately (`viewtally bench --dashboard-only --dashboard-rows 101000000`), if recorded. */
export function readDashboardReference(resultsDir: string): DashboardResult | null {
  const file = join(resultsDir, 'dashboard-100m.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DashboardResult) : null;
}
