/**
 * The creator dashboard in headless Chromium (Debian's, driven by playwright-core): a seeded
 * channel with two videos, the creator types the channel, picks a video from the top-videos
 * table, and the live count, the chart's data and the breakdowns show the seeded numbers.
 * Leaves a screenshot in test-artifacts/dashboard.png.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadRedis, redisReady } from '../api/read-redis.ts';
import { createApiServer } from '../api/server.ts';
import { createLogger } from '../pipeline/logger.ts';
import { clickhouse, localConfig, redis, uniqueName } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;
const MINUTE = 60_000;
const run = uniqueName('dash');
const channel = `${run}-channel`;
const video = `${run}-cooking`;
const other = `${run}-travel`;
const COUNTRIES = ['US', 'US', 'BR', 'IN', 'US', 'DE', 'BR', 'FR'];
const DEVICES = ['mobile', 'desktop', 'mobile', 'tv', 'mobile', 'tablet'];
const SOURCES = ['search', 'suggested', 'search', 'external', 'direct'];
const start = Math.floor(Date.now() / MINUTE) * MINUTE - 45 * MINUTE;

/** 40 minutes of the picked video with a varied shape, and a smaller second video. */
function seedRows() {
  const out = [];
  for (let m = 0; m < 40; m++) {
    const views = 4 + ((m * 7) % 11) + (m > 25 ? 6 : 0);
    out.push({
      minute: (start + m * MINUTE) / 1000, video_id: video, channel_id: channel, category: 'food',
      country: COUNTRIES[m % COUNTRIES.length], device: DEVICES[m % DEVICES.length], traffic_source: SOURCES[m % SOURCES.length],
      views, viewers: Array.from({ length: views }, (_, i) => `m${m}-v${i}`),
    });
    if (m % 4 === 0) out.push({ minute: (start + m * MINUTE) / 1000, video_id: other, channel_id: channel, category: 'travel', country: 'US', device: 'mobile', traffic_source: 'search', views: 2, viewers: [`o${m}a`, `o${m}b`] });
  }
  return out;
}

const ROWS = seedRows();
const videoRows = ROWS.filter((r) => r.video_id === video);
const sumBy = (key: 'country' | 'device' | 'traffic_source') => {
  const m = new Map<string, number>();
  for (const r of videoRows) m.set(r[key], (m.get(r[key]) ?? 0) + r.views);
  return Object.fromEntries(m);
};
const TOTAL = videoRows.reduce((s, r) => s + r.views, 0);

let ch: ClickHouseClient;
let seed: Redis;
let readRedis: Redis;
let app: FastifyInstance;
let address: string;
let browser: Browser;

beforeAll(async () => {
  ch = await clickhouse();
  await ch.insert({ table: 'views_minute_in', format: 'JSONEachRow', values: ROWS });
  seed = redis();
  await seed.set(`vt:views:${video}`, 98_765, 'EX', 3600);
  await seed.pfadd(`vt:uniq:${video}`, ...Array.from({ length: 300 }, (_, i) => `viewer-${i}`));
  await seed.expire(`vt:uniq:${video}`, 3600);
  readRedis = createReadRedis(localConfig().redis);
  await redisReady(readRedis);
  app = await createApiServer({ redis: readRedis, clickhouse: ch, topic: 'unused', log: createLogger('dashboard-test', 'silent') });
  address = await app.listen({ port: 0, host: '127.0.0.1' });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash infra/setup.sh (apt-get install chromium)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  readRedis?.disconnect();
  await seed?.del(`vt:views:${video}`, `vt:uniq:${video}`);
  seed?.disconnect();
  await ch?.close();
});

describe('creator dashboard', () => {
  it('shows the live count, the series and the breakdowns of the picked video', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1350 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    await page.goto(`${address}/`);

    await page.fill('#channel', channel);
    await page.selectOption('#range', '1h');
    await page.fill('#tz', 'Asia/Kolkata');
    await page.click('#show');
    const pick = page.locator('#top-videos button', { hasText: video });
    await pick.waitFor();
    expect(await page.locator('#top-videos tr[data-value]').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-value'), Number(tr.getAttribute('data-views'))]))).toEqual([
      [video, TOTAL],
      [other, 20],
    ]);
    await pick.click();
    await page.waitForFunction((v) => document.body.dataset.state === 'ready' && new URL(location.href).searchParams.get('video') === v, video);
    await page.waitForFunction(() => document.getElementById('live-views')?.dataset.views !== undefined);

    expect(await page.locator('#live-views').getAttribute('data-views')).toBe('98765');
    expect(await page.textContent('#live-meta')).toContain('from redis');
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe(String(TOTAL));

    const points = JSON.parse((await page.locator('#series').getAttribute('data-points'))!) as { t: string; views: number }[];
    expect(await page.locator('#series').getAttribute('data-granularity')).toBe('minute');
    expect(points.every((p) => p.t.endsWith('+05:30'))).toBe(true);
    expect(points.reduce((s, p) => s + p.views, 0)).toBe(TOTAL);
    const byMinute = new Map(points.filter((p) => p.views > 0).map((p) => [Date.parse(p.t), p.views]));
    expect(byMinute).toEqual(new Map(videoRows.map((r) => [r.minute * 1000, r.views])));
    // what Chart.js was given to draw is the same series
    const drawn = await page.evaluate(() => (window as any).Chart.getChart('series-chart').data.datasets[0].data as number[]);
    expect(drawn).toEqual(points.map((p) => p.views));

    for (const dimension of ['country', 'device', 'traffic_source'] as const) {
      const shown = await page.locator(`#breakdown-${dimension} tr[data-value]`).evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-value'), Number(tr.getAttribute('data-views'))]));
      expect(Object.fromEntries(shown)).toEqual(sumBy(dimension));
      expect(shown.map(([, v]) => v)).toEqual([...shown.map(([, v]) => v)].sort((a, b) => Number(b) - Number(a)));
    }
    expect(await page.isHidden('#error')).toBe(true);
    expect(problems).toEqual([]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    await page.close();
  });

  it('says what is wrong when the API refuses', async () => {
    const page = await browser.newPage();
    await page.goto(`${address}/?channel=${encodeURIComponent(channel)}&tz=Not/AZone`);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/^tz: unknown time zone/);
    await page.close();
  });
});
