import { beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisClient } from '../sinks/redis-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateLabelledStream, type LabelledEvent } from '../bench/labelled-stream.ts';
import { Rng } from '../bench/labelled-stream-random.ts';
import { infraDown, infraUp } from '../infra/services.ts';
import { livePositions } from '../bench/bench-throughput.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { STOP_GRACE_MS } from '../pipeline/config.ts';
import { localConfig, produceToTopic, runCli, sinkClients, uniqueName } from './harness.ts';
import { expectSameAsReference as expectSame, pairedRuns, startWorker, stopGracefully, withLateEvents, type PairedRuns } from './chaos.ts';

const HOUR = 3_600_000;
const SESSION = { VT_SESSION_TIMEOUT_MS: '6000', VT_CHECKPOINT_INTERVAL_MS: '1000' };
// A Redis database of its own for the run whose Redis gets wiped.
const WIPED_DB = 7;

/** Stops a worker with SIGTERM; resolves with its exit code and how long the graceful stop took. */
// Workers joining and leaving, service outages and a wiped Redis: after each, the sinks hold
// exactly what an undisturbed run of the same events holds.
describe('disturbances', () => {
  let stream: LabelledEvent[];
  const sinks = sinkClients();
  const name = uniqueName('disturb');
  const pair = (label: string): PairedRuns => pairedRuns(name, label, stream, (topic, events, keyOf) => produceToTopic(topic, 4, events, keyOf));
  let videos: string[];

  beforeAll(async () => {
    const generated = generateLabelledStream({ seed: 99, events: 24_000, videos: 1_000, minutes: 20, startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR }).toArray();
    stream = withLateEvents(generated, new Rng(99), 200);
    videos = [...new Set(stream.map((l) => l.event.video_id))];
    const runs = pair('unused');
    await runs.produce(runs.reference);
    await runCli(['run', '--until-idle', '--topic', runs.reference, '--group', runs.reference]);
  });

  const expectSameAsReference = (runs: PairedRuns, disturbedRedis: RedisClient = sinks.rd) => expectSame(sinks.ch, runs, videos, { reference: sinks.rd, disturbed: disturbedRedis });

  it('keeps exact totals while workers join and leave mid-stream, and each leaves gracefully within bounds', async () => {
    const runs = pair('rebalance');
    const topic = runs.disturbed;
    const feeding = runs.produce(topic, { chunks: 20, everyMs: 600 });
    const args = ['--topic', topic, '--group', topic];
    const w1 = startWorker([...args, '--workers', '1'], SESSION);
    await sleep(3_000);
    const w2 = startWorker([...args, '--workers', '2'], SESSION);
    await sleep(3_000);
    const w3 = startWorker([...args, '--workers', '1'], SESSION);
    await sleep(3_000);
    const stops = [await stopGracefully(w1)];
    await sleep(2_000);
    stops.push(await stopGracefully(w2));
    await feeding;
    stops.push(await stopGracefully(w3));
    for (const s of stops) {
      expect(s.code, s.log).toBe(0);
      expect(s.ms, s.log).toBeLessThan(STOP_GRACE_MS);
    }
    await runCli(['run', '--until-idle', ...args], SESSION);
    await expectSameAsReference(runs);
  });

  it('pauses through a Redis outage, a ClickHouse outage and a Kafka broker restart, and loses or doubles nothing', async () => {
    const runs = pair('outage');
    const topic = runs.disturbed;
    // The outages start once the worker counts (a start-up that cannot reach ClickHouse fails at
    // once, by design: a newcomer's services not started); events arrive for 20 s, through the
    // Redis outage at least, and are all in before the broker restarts.
    const feeding = runs.produce(topic, { chunks: 20, everyMs: 1_000 });
    const worker = startWorker(['--topic', topic, '--group', topic], SESSION);
    const keys = [0, 1, 2, 3].map((p) => progressKey(topic, topic, p));
    for (let waited = 0; (await livePositions(sinks.rd, keys)) === 0; waited += 250) {
      if (waited > 120_000) throw new Error(`the worker counted nothing in 2 minutes:\n${worker.log().slice(-2000)}`);
      await sleep(250);
    }
    await infraDown({ services: ['redis'] });
    await sleep(10_000);
    await infraUp({ services: ['redis'] });
    await sleep(3_000);
    await infraDown({ services: ['clickhouse'] });
    await sleep(10_000);
    await infraUp({ services: ['clickhouse'] });
    await sleep(3_000);
    await infraDown({ services: ['kafka'] });
    await infraUp({ services: ['kafka'] });
    await feeding;
    await sleep(3_000);
    const stop = await stopGracefully(worker);
    expect(stop.code, worker.log().slice(-1500)).toBe(0);
    await runCli(['run', '--until-idle', '--topic', topic, '--group', topic], SESSION);
    await expectSameAsReference(runs);
  });

  it('restores exact counts with reconcile --fix after Redis is flushed mid-run', async () => {
    const runs = pair('wiped');
    const topic = runs.disturbed;
    const wiped = new Redis(`${localConfig().redis}/${WIPED_DB}`);
    const redisFlag = ['--redis', `${localConfig().redis}/${WIPED_DB}`];
    try {
      await wiped.flushdb();
      const feeding = runs.produce(topic, { chunks: 12, everyMs: 500 });
      const worker = startWorker(['--topic', topic, '--group', topic, ...redisFlag], SESSION);
      await sleep(5_000);
      await wiped.flushdb();
      await sleep(2_000);
      await runCli(['reconcile', '--fix', '--topic', topic, '--group', topic, ...redisFlag]);
      await feeding;
      await sleep(2_000);
      expect((await stopGracefully(worker)).code).toBe(0);
      await runCli(['run', '--until-idle', '--topic', topic, '--group', topic, ...redisFlag], SESSION);
      await expectSameAsReference(runs, wiped);
    } finally {
      wiped.disconnect();
    }
  });
});
