import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testEvent } from '../operators/test-records.ts';
import { produceToTopic, uniqueName } from './harness.ts';
import { exited, startWorker } from './chaos.ts';
import { freePort } from '../infra/free-port.ts';

// One process owns an embedded ClickHouse directory: `run --serve` runs the job and the API in
// it, and the API answers live counts from Redis and analytics from that same embedded ClickHouse.
describe('embedded mode: run --serve', () => {
  it('serves the counts the job in the same process writes', async () => {
    const topic = uniqueName('embedded');
    const dir = mkdtempSync(join(tmpdir(), 'vt-embedded-'));
    const video = `${topic}-v`;
    const at = Date.now() - 10 * 60_000;
    const events = Array.from({ length: 40 }, (_, i) =>
      testEvent({ event_id: `${topic}-${i}`, video_id: video, viewer_id: `${topic}-viewer-${i}`, session_id: `s-${i}`, ts: at + i * 1000, ip: `198.51.100.${i + 1}` }),
    );
    // a later event moves the watermark past the first minutes, so their windows fire
    events.push(testEvent({ event_id: `${topic}-late`, video_id: `${topic}-other`, viewer_id: `${topic}-o`, ts: Date.now() - 60_000 }));
    await produceToTopic(topic, 2, events);
    const port = await freePort();
    const worker = startWorker(['--topic', topic, '--group', topic, '--serve', '--port', String(port), '--clickhouse', `embedded:${dir}`], { VT_CHECKPOINT_INTERVAL_MS: '1000' });
    const base = `http://127.0.0.1:${port}`;
    try {
      let live: { views?: number; unique_viewers?: number; source?: string } = {};
      let total: { views?: number } = {};
      let ready = 0;
      // the embedded engine loads in the job's process first: up to a few minutes beside other test
      // files; readiness too waits for the engine (a checkpoint stuck behind a slow insert for 6
      // intervals reads as a stall)
      for (let i = 0; i < 240 && !(live.views === 40 && total.views === 40 && ready === 200); i++) {
        await sleep(1000);
        live = await fetch(`${base}/v1/videos/${video}/views`).then((r) => r.json()).catch(() => ({}));
        const range = `from=${new Date(at - 3_600_000).toISOString()}&to=${new Date().toISOString()}`;
        total = await fetch(`${base}/v1/analytics/totals?${range}&video_id=${video}`).then((r) => r.json()).catch(() => ({}));
        ready = await fetch(`${base}/readyz`).then((r) => r.status, () => 0);
      }
      expect(live).toMatchObject({ video_id: video, views: 40, source: 'redis' });
      // a HyperLogLog estimate (its hash of these run-unique ids decides): 39 was seen once
      expect(live.unique_viewers).toBeGreaterThanOrEqual(38);
      expect(live.unique_viewers).toBeLessThanOrEqual(40);
      expect(total.views).toBe(40);
      expect(ready).toBe(200);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
    }
    expect(worker.exitCode, worker.log().slice(-1500)).toBe(0);
  });
});
