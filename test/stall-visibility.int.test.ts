import { beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricSum } from '../pipeline/metrics.ts';
import { STALL_CHECKPOINTS } from '../pipeline/stall-watch.ts';
import type { StreamTruth } from '../bench/labelled-stream.ts';
import { sinkClients } from './harness.ts';
import { exited, startWorker } from './chaos.ts';
import { createTopic, expectEnded, expectExactCounts, produceRaw, runUntilIdle, validEvents } from './poison-input.ts';
import { freePort } from '../infra/free-port.ts';
import { runningPid } from '../infra/processes.ts';
import { resolveConfig } from '../infra/infra-paths.ts';
import { STOP_CHECKPOINT_MS, STOP_GRACE_MS } from '../pipeline/config.ts';

const CHECKPOINT_MS = 1_000;

/** What /readyz and /metrics say at one moment. */
interface Probe {
  ready: number;
  stalled: number;
  checkpoints: number;
  text: string;
}

/** Polls the worker's endpoints until `done` holds for what they say, for at most `ms`; returns the last answer. */
async function until(port: number, done: (p: Probe) => boolean, ms: number): Promise<Probe> {
  let last: Probe = { ready: 0, stalled: -1, checkpoints: 0, text: '' };
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
    try {
      const ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      last = { ready, text, stalled: metricSum(text, 'viewtally_partition_stalled'), checkpoints: metricSum(text, 'viewtally_checkpoint_seconds_count') };
      if (done(last)) return last;
    } catch {
      // not listening yet
    }
  }
  return last;
}

// A partition whose sink does not answer is not silent: after a few checkpoint intervals with events
// waiting, /readyz fails and viewtally_partition_stalled says which; both clear once it moves again.
// Then a stop while ClickHouse does not answer (its process frozen, a checkpoint's write in flight):
// the final checkpoint gets its deadline, and the job still leaves the group within the grace and
// exits 0. The next owner writes the block that was cut short: nothing is lost or doubled.
describe('a stalled sink', () => {
  const sinks = sinkClients();
  let truth: StreamTruth;
  let topic: string;
  let prefix: string;
  let before: Probe;
  let stalled: Probe;
  let recovered: Probe;
  let stop: { code: number | null; log: string };
  let finish: { code: number | null; log: string };

  beforeAll(async () => {
    topic = await createTopic('stall', 2);
    prefix = `${topic}-`;
    const valid = validEvents(19, 6_000, prefix);
    truth = valid.truth;
    const messages = valid.messages.map((m) => ({ partition: [...m.key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 2, key: m.key, value: m.value }));
    await produceRaw(topic, messages.slice(0, 2_000));
    const port = await freePort();
    const worker = startWorker(['--topic', topic, '--group', topic, '--metrics-port', String(port)], { VT_CHECKPOINT_INTERVAL_MS: String(CHECKPOINT_MS) });
    const clickhouse = runningPid(resolveConfig(), 'clickhouse');
    if (clickhouse === null) throw new Error('the test ClickHouse is not running');
    try {
      before = await until(port, (p) => p.ready === 200 && p.checkpoints >= 2 && p.text.includes('viewtally_partition_stalled{'), 60_000);
      // Redis holds every write (and script) of the job while paused: no live flush, no checkpoint.
      await sinks.rd.call('CLIENT', 'PAUSE', '40000', 'WRITE');
      await produceRaw(topic, messages.slice(2_000, 4_000));
      stalled = await until(port, (p) => p.ready === 503 && p.stalled >= 1, 30_000);
      await sinks.rd.call('CLIENT', 'UNPAUSE');
      recovered = await until(port, (p) => p.ready === 200 && p.stalled === 0, 30_000);
      process.kill(clickhouse, 'SIGSTOP');
      await produceRaw(topic, messages.slice(4_000));
      // a few checkpoint intervals: the new events' checkpoint is in Redis, its ClickHouse write waits
      await sleep(4 * CHECKPOINT_MS);
      worker.kill('SIGTERM');
      await exited(worker);
    } finally {
      await sinks.rd.call('CLIENT', 'UNPAUSE');
      process.kill(clickhouse, 'SIGCONT');
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      await exited(worker);
    }
    stop = { code: worker.exitCode, log: worker.log() };
    finish = await runUntilIdle(topic);
  });

  it('is ready, with no partition stalled, while checkpoints advance', () => {
    expect(before.ready).toBe(200);
    expect(before.stalled).toBe(0);
  });

  it(`fails /readyz and sets viewtally_partition_stalled once a partition has not advanced for ${STALL_CHECKPOINTS} checkpoints while events wait`, () => {
    expect(stalled.ready, stalled.text).toBe(503);
    expect(stalled.stalled).toBeGreaterThanOrEqual(1);
    expect(stalled.text).toMatch(/viewtally_partition_stalled\{partition="[01]"\} 1/);
    expect(stop.log).toMatch(/"level":50,.*"msg":"partition stalled: its checkpoint has not advanced while events wait/);
  });

  it('is ready again once the partition advances', () => {
    expect(recovered.ready, recovered.text).toBe(200);
    expect(recovered.stalled).toBe(0);
  });

  it(`stopped while ClickHouse does not answer, gives the final checkpoint ${STOP_CHECKPOINT_MS / 1000} s and exits 0 within the ${STOP_GRACE_MS / 1000} s grace`, () => {
    expect(stop.code, stop.log.slice(-3000)).toBe(0);
    expect(stop.log).toMatch(/"level":40,.*"msg":"final checkpoint not written in time/);
  });

  it('loses and doubles nothing once the next owner has run', async () => {
    expectEnded(finish);
    await expectExactCounts(sinks.ch, sinks.rd, topic, prefix, truth);
  });
});
