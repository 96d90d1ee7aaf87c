import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../sinks/redis-client.ts';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream, truthOf, type StreamTruth } from '../bench/labelled-stream.ts';
import { clickhouse, localConfig, produceToTopic, redis, rows, runCli, uniqueName, DETERMINISTIC_MIX } from './harness.ts';
import { exited, startWorker } from './chaos.ts';
import { freePort } from '../infra/free-port.ts';
import { metricSum as metric } from '../pipeline/metrics.ts';

const HOUR = 3_600_000;
const DELAY_MS = 1_500;
const PENDING_BOUND = 3_000;
/** Where the worker serves /metrics: a port free when the file starts. */
let METRICS_PORT = 0;

/** A proxy in front of the local ClickHouse that holds every request back before passing it on. */
function slowProxy(target: URL): Promise<Server> {
  const server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (d) => body.push(d));
    req.on('end', () => {
      setTimeout(() => {
        const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.writeHead(502).end());
        upstream.end(Buffer.concat(body));
      }, DELAY_MS);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}


// ClickHouse answering slowly: consumption waits at the pending-events bound instead of piling
// events up in memory, and once everything is through, nothing is lost or doubled.
describe('slow ClickHouse', () => {
  const topic = uniqueName('slow');
  let proxy: Server;
  let truth: StreamTruth;
  let rd: RedisClient;
  const pending: number[] = [];

  beforeAll(async () => {
    METRICS_PORT = await freePort();
    const events = generateLabelledStream({
      seed: 11,
      events: 40_000,
      videos: 500,
      minutes: 20,
      startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR,
      mix: DETERMINISTIC_MIX,
    })
      .toArray()
      .map((l) => ({ ...l, event: { ...l.event, video_id: `${topic}-${l.event.video_id}` } }));
    truth = truthOf(events);
    proxy = await slowProxy(new URL(localConfig().clickhouse));
    const address = proxy.address() as { port: number };
    const config = join(mkdtempSync(join(tmpdir(), 'vt-slow-')), 'config.json');
    writeFileSync(config, JSON.stringify({ maxPendingEvents: PENDING_BOUND, checkpointIntervalMs: 1000 }));
    await produceToTopic(topic, 2, events.map((l) => l.event));
    // One worker thread: the bound is per worker.
    const worker = startWorker(['--workers', '1', '--topic', topic, '--group', topic, '--config', config, '--clickhouse', `http://127.0.0.1:${address.port}`, '--metrics-port', String(METRICS_PORT)], {});
    // Sampled once the job has claimed its partitions: starting (migrations through the slow proxy) is not what is measured.
    for (let waited = 0; waited < 120 && (await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`).then((r) => r.status, () => 0)) !== 200; waited++) await sleep(1000);
    for (let i = 0; i < 14; i++) {
      await sleep(1000);
      const text = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`).then((r) => r.text()).catch(() => '');
      if (text) pending.push(metric(text, 'viewtally_pending_events'));
    }
    worker.kill('SIGTERM');
    await exited(worker);
    await runCli(['run', '--until-idle', '--topic', topic, '--group', topic]);
    rd = redis();
  });

  afterAll(async () => {
    proxy?.close();
    rd?.disconnect();
  });

  it('holds pending events near the bound while ClickHouse is slow', () => {
    console.log(`slow ClickHouse: pending events sampled each second, max ${Math.max(...pending)} (bound ${PENDING_BOUND}): ${pending.join(" ")}`);
    expect(pending.length).toBeGreaterThan(10);
    // One fetch batch may land on top of the bound before consumption waits.
    expect(Math.max(...pending)).toBeLessThanOrEqual(PENDING_BOUND + 20_000);
    expect(Math.max(...pending)).toBeGreaterThan(0);
  });

  it('loses and doubles nothing once everything is through', async () => {
    const ch = await clickhouse();
    try {
      const [r] = await rows<{ v: string }>(ch, 'SELECT sum(views) AS v FROM views_minute WHERE startsWith(video_id, {p:String})', { p: topic });
      expect(Number(r.v)).toBe(truth.outcomes.counted);
    } finally {
      await ch.close();
    }
    const ids = [...truth.countedByVideo.keys()];
    const values = await liveViews(rd, { group: topic, topic }, ids);
    expect(new Map(ids.map((id, i) => [id, values[i]]))).toEqual(truth.countedByVideo);
  });
});
