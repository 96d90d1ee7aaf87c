/**
 * The creator dashboard in headless Chromium (Debian's, driven by playwright-core), on a
 * database of its own holding a seeded channel with two videos: the page starts with the
 * trending videos to pick from and nothing else; the creator types the channel, picks a video
 * from the top-videos table, and the live count, the chart's data (minutes not written yet
 * drawn as pending) and the breakdowns show the seeded numbers; breakdown rows and the filter
 * fields narrow the numbers; an error leaves no old numbers under it; on a phone the chart's
 * labels do not overlap. Leaves screenshots in test-artifacts/.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../sinks/redis-client.ts';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadRedis, redisReady } from '../api/read-redis.ts';
import { createApiServer } from '../api/server.ts';
import { createLogger } from '../pipeline/logger.ts';
import { localConfig, redis, uniqueName } from './harness.ts';
import { createTestDatabase, type TestDatabase } from '../clickhouse/test-database.ts';

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
/** The minute after the newest seeded one: from there on nothing is written yet. */
const WRITTEN_UNTIL = start + 40 * MINUTE;

let db: TestDatabase;
let ch: ClickHouseClient;
let seed: RedisClient;
let readRedis: RedisClient;
let app: FastifyInstance;
let address: string;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase('dashboard_browser');
  ch = db.client;
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
  await db?.drop();
});

type Page = Awaited<ReturnType<Browser['newPage']>>;

/** Waits until the answer to the form as it is now is on the page. */
async function shown(page: Page, param: string, value: string) {
  await page.waitForFunction(([p, v]) => document.body.dataset.state === 'ready' && new URL(location.href).searchParams.get(p) === v, [param, value] as const);
}

const sumOf = (rows: typeof videoRows) => rows.reduce((s, r) => s + r.views, 0);

describe('creator dashboard', () => {
  it('shows the live count, the series and the breakdowns of the picked video', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1350 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    await page.goto(`${address}/`);

    // before any query: the trending videos to pick from, no empty cards
    await page.waitForFunction(() => document.body.dataset.trending === 'ready');
    expect(await page.isHidden('#results')).toBe(true);
    expect(await page.isVisible('#summary')).toBe(false);
    expect(await page.locator('#trending tr[data-value]').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-value'), tr.getAttribute('data-channel')]))).toEqual([
      [video, channel],
      [other, channel],
    ]);
    expect(await page.locator('#video-ids option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([video, other]);
    expect(await page.locator('#channel-ids option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([channel]);

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
    await shown(page, 'video', video);
    await page.waitForFunction(() => document.getElementById('live-views')?.dataset.views !== undefined);

    expect(await page.locator('#live-views').getAttribute('data-views')).toBe('98765');
    expect(await page.textContent('#live-card h2')).toBe('Live views all time');
    expect(await page.isHidden('#trending-section')).toBe(true);
    expect(await page.textContent('#live-meta')).toContain('from redis');
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe(String(TOTAL));

    const points = JSON.parse((await page.locator('#series').getAttribute('data-points'))!) as { t: string; views: number }[];
    expect(await page.locator('#series').getAttribute('data-granularity')).toBe('minute');
    expect(points.every((p) => p.t.endsWith('+05:30'))).toBe(true);
    expect(points.reduce((s, p) => s + p.views, 0)).toBe(TOTAL);
    const byMinute = new Map(points.filter((p) => p.views > 0).map((p) => [Date.parse(p.t), p.views]));
    expect(byMinute).toEqual(new Map(videoRows.map((r) => [r.minute * 1000, r.views])));
    // minutes after the newest written one are pending: Chart.js gets no value for them, not a zero
    const pendingFrom = await page.locator('#series').getAttribute('data-pending-from');
    expect(Date.parse(pendingFrom!)).toBe(WRITTEN_UNTIL);
    expect(await page.textContent('#series-meta')).toContain('not written yet');
    const drawn = await page.evaluate(() => (window as any).Chart.getChart('series-chart').data.datasets[0].data as (number | null)[]);
    expect(drawn).toEqual(points.map((p) => (Date.parse(p.t) >= WRITTEN_UNTIL ? null : p.views)));
    expect(drawn.filter((v) => v === null).length).toBeGreaterThanOrEqual(5);

    for (const dimension of ['country', 'device', 'traffic_source'] as const) {
      const shown = await page.locator(`#breakdown-${dimension} tr[data-value]`).evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-value'), Number(tr.getAttribute('data-views'))]));
      expect(Object.fromEntries(shown)).toEqual(sumBy(dimension));
      expect(shown.map(([, v]) => v)).toEqual([...shown.map(([, v]) => v)].sort((a, b) => Number(b) - Number(a)));
    }
    expect(await page.isHidden('#error')).toBe(true);
    expect(problems).toEqual([]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });

    // a breakdown row narrows everything to its value; the filter fields narrow further
    await page.locator('#breakdown-country tr[data-value="BR"]').click();
    await shown(page, 'country', 'BR');
    const brazil = videoRows.filter((r) => r.country === 'BR');
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe(String(sumOf(brazil)));
    expect(await page.locator('#breakdown-country tr[data-value]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value')))).toEqual(['BR']);
    expect(await page.inputValue('#country')).toBe('BR');
    await page.selectOption('#device', 'mobile');
    await page.click('#show');
    await shown(page, 'device', 'mobile');
    const brazilMobile = brazil.filter((r) => r.device === 'mobile');
    expect(brazilMobile.length).toBeGreaterThan(0);
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe(String(sumOf(brazilMobile)));
    await page.locator('#breakdown-traffic_source tr[data-value]').first().click();
    await page.waitForFunction(() => new URL(location.href).searchParams.has('traffic_source') && document.body.dataset.state === 'ready');
    const sourceShown = await page.inputValue('#traffic_source');
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe(String(sumOf(brazilMobile.filter((r) => r.traffic_source === sourceShown))));

    expect(problems).toEqual([]);

    // an error replaces the results instead of sitting above the previous ones
    await page.fill('#tz', 'Not/AZone');
    await page.click('#show');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/^tz: unknown time zone/);
    expect(await page.isHidden('#results')).toBe(true);
    expect(await page.isVisible('#range-views')).toBe(false);
    await page.close();
  });

  it('lets a creator pick a trending video, and says when an id was never seen', async () => {
    const page = await browser.newPage();
    await page.goto(`${address}/?tz=UTC`);
    await page.locator('#trending tr[data-value]', { hasText: other }).click();
    await shown(page, 'video', other);
    expect([await page.inputValue('#channel'), await page.inputValue('#video')]).toEqual([channel, other]);
    expect(await page.locator('#range-views').getAttribute('data-views')).toBe('20');

    await page.goto(`${address}/?video=${encodeURIComponent(`${run}-typo`)}`);
    await page.waitForFunction(() => /from clickhouse/.test(document.getElementById('live-meta')?.textContent ?? ''));
    expect(await page.textContent('#live-meta')).toMatch(/^no event of this video has arrived yet/);
    await page.close();
  });

  it('keeps the chart\'s time labels apart on a phone', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await page.goto(`${address}/?channel=${encodeURIComponent(channel)}&range=24h&tz=UTC`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    const labels = await page.evaluate(() => {
      const chart = (window as any).Chart.getChart('series-chart');
      const scale = chart.scales.x;
      return scale.getLabelItems().map((item: any) => {
        chart.ctx.save();
        chart.ctx.font = item.font.string;
        const width = chart.ctx.measureText(String(item.label)).width;
        chart.ctx.restore();
        const x = item.options.translation[0];
        const left = item.options.textAlign === 'left' ? x : item.options.textAlign === 'right' ? x - width : x - width / 2;
        return { label: String(item.label), left, right: left + width, canvas: chart.width };
      });
    });
    expect(labels.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < labels.length; i++) expect(labels[i].left, `${labels[i - 1].label} | ${labels[i].label}`).toBeGreaterThan(labels[i - 1].right + 4);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-phone.png`, fullPage: true });
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
