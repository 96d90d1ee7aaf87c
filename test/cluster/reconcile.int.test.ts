import { beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateLabelledStream, truthOf, type LabelledEvent } from '../../bench/labelled-stream.ts';
import { masters, type RedisClient } from '../../sinks/redis-client.ts';
import { produceToTopic, runCli, sinkClients, uniqueName, DETERMINISTIC_MIX } from '../harness.ts';
import { exited, startWorker } from '../chaos.ts';
import { expectSinksEqualTruth } from '../sink-truth.ts';

const HOUR = 3_600_000;
const SESSION = { VT_SESSION_TIMEOUT_MS: '6000', VT_CHECKPOINT_INTERVAL_MS: '1000' };

// reconcile --fix on the cluster layout: every master is flushed while a worker runs (a Redis
// Cluster lost or restored from an old backup), reconcile puts the partitions back on their
// ClickHouse checkpoint copies and each video's total into the partition counters, and the
// owner replays the rest: the totals end exact.
describe('reconcile --fix on a wiped Redis Cluster', () => {
  const topic = uniqueName('cluster-wiped');
  let events: LabelledEvent[];
  const sinks = sinkClients();
  let workerExit: number | null = null;

  beforeAll(async () => {
    const stream = generateLabelledStream({ seed: 77, events: 24_000, videos: 1_000, minutes: 15, startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR, mix: DETERMINISTIC_MIX });
    events = stream.toArray().map((l) => ({ ...l, event: { ...l.event, video_id: `${topic}-${l.event.video_id}` } }));
    await sinks.rd.ping(); // connected, so every master is known before the flush
    const chunk = Math.ceil(events.length / 12);
    const feeding = (async () => {
      for (let i = 0; i < events.length; i += chunk) {
        await produceToTopic(topic, 4, events.slice(i, i + chunk).map((l) => l.event));
        await sleep(500);
      }
    })();
    const args = ['--topic', topic, '--group', topic];
    const worker = startWorker(args, SESSION);
    await sleep(6_000);
    await Promise.all(masters(sinks.rd).map((node) => node.flushall()));
    await sleep(2_000);
    await runCli(['reconcile', '--fix', ...args]);
    await feeding;
    await sleep(2_000);
    worker.kill('SIGTERM');
    await exited(worker);
    workerExit = worker.exitCode;
    await runCli(['run', '--until-idle', ...args], SESSION);
  });

  it('ends with live totals, minute rows and outcomes equal to the truth', async () => {
    await expectSinksEqualTruth(sinks.ch, sinks.rd, { group: topic, topic }, events, truthOf(events), topic);
    expect(workerExit).toBe(0);
  });
});
