/**
 * Latency of the dashboard queries on ≥ 100 M minute rows:
 *
 *   npx tsx clickhouse/dashboard-latency.bench.ts [--clickhouse <target>] [--rows N] [--days D] [--runs R]
 *       [--regenerate] [--compare-projections]
 *
 * The data is generated inside ClickHouse (`INSERT INTO views_minute SELECT … FROM numbers()`,
 * one chunk per day, so memory stays flat), in a place of its own: by default an embedded chDB
 * directory (`.viewtally/bench/dashboard`), or a database `vt_bench_dashboard` on an http target.
 * Shape: ~1 M videos with Zipf(1) popularity, videos spread over 10 000 channels, 24
 * categories, 40 countries, 6 devices and 8 traffic sources (all skewed), D days ending now.
 * The rollup views build views_hour and views_day as the job's inserts would. A populated
 * place is reused unless --regenerate.
 *
 * Then each query runs R times (after two warm-ups) for a popular and a middling channel and
 * video, 30 days in America/New_York, and p50/p95 are printed as a table. With
 * --compare-projections each run is repeated with `optimize_use_projections = 0`, interleaved,
 * to show what the projections of migration 0004 buy under the same load.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { createClickHouseClient, isEmbeddedTarget } from '../infra/clickhouse-client.ts';
import { migrate } from './migrations.ts';
import { applyRetention } from './retention.ts';
import { breakdown, totals, trending, uniqueViewers, viewsOverTime } from './dashboard-queries.ts';
import { percentile } from '../bench/percentile.ts';

const { values: args } = parseArgs({
  options: {
    clickhouse: { type: 'string' },
    rows: { type: 'string', default: '101000000' },
    days: { type: 'string', default: '30' },
    runs: { type: 'string', default: '30' },
    regenerate: { type: 'boolean', default: false },
    'compare-projections': { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const DAYS = Number(args.days);
const RUNS = Number(args.runs);
const DAY_MS = 86_400_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

async function open(settings: ClickHouseSettings = {}): Promise<ClickHouseClient> {
  const target = args.clickhouse ?? `embedded:${join(process.cwd(), '.viewtally', 'bench', 'dashboard')}`;
  if (isEmbeddedTarget(target)) return createClickHouseClient(target, { settings: { max_threads: 2, ...settings } });
  const admin = createClickHouseClient(target);
  await admin.command({ query: 'CREATE DATABASE IF NOT EXISTS vt_bench_dashboard' });
  await admin.close();
  return createClickHouseClient(`${target.replace(/\/+$/, '')}/vt_bench_dashboard`, { requestTimeoutMs: 3_600_000, settings });
}

async function scalar(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<string> {
  const [row] = await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<Record<string, string>>();
  return String(Object.values(row)[0]);
}

// Ids as functions of a video's popularity rank, so the bench can name the popular ones.
const VIDEO_ID = `lower(hex(cityHash64('video', rank)))`;
const CHANNEL_ID = `concat('UC', lower(hex(cityHash64('channel', rank % 10000))))`;

/** One day of minute rows: rank ~ Zipf(1) over 1 M videos, skewed dimensions, 1–8 viewers each. */
const GENERATE_DAY = `
INSERT INTO views_minute
SELECT minute, ${VIDEO_ID} AS video_id, ${CHANNEL_ID} AS channel_id,
       concat('cat', toString(rank % 24)) AS category,
       ['US','IN','BR','ID','MX','JP','DE','GB','FR','PH','TR','VN','RU','KR','IT','ES','TH','CA','EG','PK',
        'NG','AR','CO','PL','SA','UA','MY','AU','NL','BD','ZA','PE','CL','SE','BE','RO','CZ','PT','GR','ZZ'][
         toUInt32(floor(exp(u3 * log(41)))) ] AS country,
       ['mobile','mobile','mobile','desktop','desktop','tv','tablet','console','other'][1 + toUInt32(u4 * 9)] AS device,
       ['suggested','suggested','search','search','external','direct','channel','playlist','notification','other'][1 + toUInt32(u5 * 10)] AS traffic_source,
       views,
       arrayReduce('uniqCombinedState(15)', arrayMap(i -> toString(cityHash64(number, 100 + i) % 50000000), range(least(views, 8)))) AS unique_viewers
FROM (
  SELECT number,
         toDateTime({dayStart:UInt32} + (cityHash64(number, 1) % 1440) * 60, 'UTC') AS minute,
         toUInt64(floor(exp((cityHash64(number, 2) % 1000000007) / 1000000007 * log(1000000)))) AS rank,
         (cityHash64(number, 3) % 1000003) / 1000003 AS u3,
         (cityHash64(number, 4) % 1000003) / 1000003 AS u4,
         (cityHash64(number, 5) % 1000003) / 1000003 AS u5,
         toUInt64(1 + floor(-log(1 - (cityHash64(number, 6) % 1000003) / 1000003) * 1.2)) AS views
  FROM numbers({first:UInt64}, {count:UInt64})
)`;

async function generate(client: ClickHouseClient): Promise<void> {
  await migrate(client);
  // Minute rows older than a week would expire on insert; the bench keeps all tiers for its span.
  await applyRetention(client, { minuteDays: DAYS + 5, hourDays: Math.max(90, DAYS + 5) });
  const existing = Number(await scalar(client, 'SELECT count() FROM views_minute'));
  if (existing >= ROWS * 0.98 && !args.regenerate) {
    log(`reusing ${existing.toLocaleString()} minute rows`);
    return;
  }
  for (const t of ['views_minute', 'views_hour', 'views_day']) await client.command({ query: `TRUNCATE TABLE ${t}` });
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const perDay = Math.ceil(ROWS / DAYS);
  const t0 = Date.now();
  for (let d = 0; d < DAYS; d++) {
    const dayStart = (today - (DAYS - 1 - d) * DAY_MS) / 1000;
    await client.command({
      query: GENERATE_DAY,
      query_params: { dayStart, first: d * perDay, count: perDay },
      clickhouse_settings: { max_threads: 2, max_insert_threads: '2', max_block_size: '262144', min_insert_block_size_rows: '262144' },
    });
    log(`day ${d + 1}/${DAYS}: ${((d + 1) * perDay).toLocaleString()} rows in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
}

async function main(): Promise<void> {
  const client = await open();
  await generate(client);
  const counts = await Promise.all(['views_minute', 'views_hour', 'views_day'].map((t) => scalar(client, `SELECT count() FROM ${t}`)));
  log(`rows: minute ${Number(counts[0]).toLocaleString()}, hour ${Number(counts[1]).toLocaleString()}, day ${Number(counts[2]).toLocaleString()}`);
  const id = (expr: string, rank: number) => scalar(client, `SELECT ${expr} FROM (SELECT toUInt64({rank:UInt64}) AS rank)`, { rank });
  const [topVideo, topChannel, midVideo, midChannel] = await Promise.all([id(VIDEO_ID, 1), id(CHANNEL_ID, 1), id(VIDEO_ID, 1000), id(CHANNEL_ID, 500)]);
  const [topChannelRows, topVideoRows] = await Promise.all([
    scalar(client, 'SELECT count() FROM views_minute WHERE channel_id = {c:String}', { c: topChannel }),
    scalar(client, 'SELECT count() FROM views_minute WHERE video_id = {v:String}', { v: topVideo }),
  ]);
  log(`popular channel ${topChannel} (${Number(topChannelRows).toLocaleString()} minute rows), popular video ${topVideo} (${Number(topVideoRows).toLocaleString()})`);

  const now = Date.now();
  const tz = 'America/New_York';
  const d30 = { from: new Date(now - 30 * DAY_MS), to: new Date(now), tz };
  const cases: [string, (c: ClickHouseClient) => Promise<unknown>][] = [
    ['viewsOverTime 30 d, popular channel (hour buckets)', (c) => viewsOverTime(c, { ...d30, channelId: topChannel })],
    ['viewsOverTime 30 d, popular video', (c) => viewsOverTime(c, { ...d30, videoId: topVideo })],
    ['viewsOverTime 30 d, popular channel + video', (c) => viewsOverTime(c, { ...d30, channelId: topChannel, videoId: topVideo })],
    ['viewsOverTime 30 d, middling channel', (c) => viewsOverTime(c, { ...d30, channelId: midChannel })],
    ['viewsOverTime 30 d, middling video', (c) => viewsOverTime(c, { ...d30, videoId: midVideo })],
    ['viewsOverTime 30 d, popular channel, country=US', (c) => viewsOverTime(c, { ...d30, channelId: topChannel, country: 'US' })],
    ['viewsOverTime 24 h, popular video (minute buckets)', (c) => viewsOverTime(c, { from: new Date(now - DAY_MS), to: new Date(now), tz, videoId: topVideo })],
    ['viewsOverTime 120 d, popular channel (day buckets)', (c) => viewsOverTime(c, { from: new Date(now - 120 * DAY_MS), to: new Date(now), tz, channelId: topChannel })],
    ['breakdown country 30 d, popular channel', (c) => breakdown(c, { ...d30, channelId: topChannel, dimension: 'country' })],
    ['breakdown device 30 d, popular channel', (c) => breakdown(c, { ...d30, channelId: topChannel, dimension: 'device' })],
    ['breakdown traffic_source 30 d, popular video', (c) => breakdown(c, { ...d30, videoId: topVideo, dimension: 'traffic_source' })],
    ['breakdown video_id 30 d, popular channel (top 20)', (c) => breakdown(c, { ...d30, channelId: topChannel, dimension: 'video_id', limit: 20 })],
    ['totals 30 d, popular channel', (c) => totals(c, { ...d30, channelId: topChannel })],
    ['uniqueViewers 30 d, popular video', (c) => uniqueViewers(c, { ...d30, videoId: topVideo })],
    ['trending last 60 min, all videos', (c) => trending(c, { windowMinutes: 60, limit: 20 })],
    ['totals 30 d, one category, all channels', (c) => totals(c, { ...d30, category: 'cat7' })],
  ];

  // --compare-projections: every run is repeated, interleaved, with projections switched off, so
  // both columns see the same load.
  const compare = args['compare-projections'] ? await open({ optimize_use_projections: 0 }) : null;
  const stats = (times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    return { p50: Math.round(percentile(sorted, 50)), p95: Math.round(percentile(sorted, 95)), max: Math.round(sorted[sorted.length - 1]) };
  };
  const results: { query: string; on: ReturnType<typeof stats>; off?: ReturnType<typeof stats> }[] = [];
  for (const [name, run] of cases) {
    for (let i = 0; i < 2; i++) {
      await run(client);
      if (compare) await run(compare);
    }
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      await run(client);
      on.push(performance.now() - t);
      if (!compare) continue;
      t = performance.now();
      await run(compare);
      off.push(performance.now() - t);
    }
    const r = { query: name, on: stats(on), ...(compare ? { off: stats(off) } : {}) };
    results.push(r);
    log(`${r.query}: p50 ${r.on.p50} ms, p95 ${r.on.p95} ms${r.off ? ` (no projections: p50 ${r.off.p50} ms, p95 ${r.off.p95} ms)` : ''}`);
  }
  const width = Math.max(...results.map((r) => r.query.length));
  const cols = (x: ReturnType<typeof stats>) => `${String(x.p50).padStart(6)}  ${String(x.p95).padStart(6)}  ${String(x.max).padStart(6)}`;
  console.log(`${'query'.padEnd(width)}  p50 ms  p95 ms  max ms${compare ? '  | no projections: p50  p95  max' : ''}`);
  for (const r of results) console.log(`${r.query.padEnd(width)}  ${cols(r.on)}${r.off ? `  | ${cols(r.off)}` : ''}`);
  console.log(`(${Number(counts[0]).toLocaleString()} minute rows, ${Number(counts[1]).toLocaleString()} hour rows, ${RUNS} runs each, target ${args.clickhouse ?? 'embedded'})`);
  await compare?.close();
  await client.close();
}

await main();
