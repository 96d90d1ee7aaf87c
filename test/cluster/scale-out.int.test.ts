import { beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateLabelledStream, truthOf, type LabelledEvent, type StreamTruth } from '../../bench/labelled-stream.ts';
import type { RedisClient } from '../../sinks/redis-client.ts';
import { jobStatus, type PartitionStatus } from '../../pipeline/status.ts';
import { createKafka } from '../../pipeline/kafka-client.ts';
import { localConfig, produceToTopic, runCli, sinkClients, uniqueName, DETERMINISTIC_MIX } from '../harness.ts';
import { startWorker, stopGracefully } from '../chaos.ts';
import { expectSinksEqualTruth } from '../sink-truth.ts';

const PARTITIONS = 16;
const HOUR = 3_600_000;
// one consumer-group member per process: the processes are what joins and leaves here
const SESSION = { VT_SESSION_TIMEOUT_MS: '6000', VT_CHECKPOINT_INTERVAL_MS: '1000', VT_WORKERS: '1' };

/** The Kafka client id a worker process joins the group with (pipeline/job.ts), without the worker thread's `-w<n>`. */
const memberOf = (w: ChildProcess) => `viewtally-${hostname()}-${w.pid}`;
/** The process a group member (`viewtally status`'s owner) runs in. */
const processOf = (owner: string | null) => owner?.replace(/-w\d+$/, '') ?? null;

/** Partition → owner as `viewtally status` prints it. */
async function ownership(topic: string): Promise<PartitionStatus[]> {
  const { stdout } = await runCli(['status', '--json', '--topic', topic, '--group', topic]);
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as PartitionStatus);
}

/** Whether `status` shows the group settled on exactly `members`, each owning its share. */
function settled(status: PartitionStatus[], members: Set<string>): boolean {
  const owners = new Set(status.map((s) => processOf(s.owner)));
  return status.length === PARTITIONS && owners.size === members.size && [...owners].every((o) => o !== null && members.has(o));
}

/**
 * Waits until the group has settled on exactly `workers`; returns what `viewtally status` showed
 * then. The wait polls the same status in this process: a CLI each second would take a core.
 */
async function settledOn(topic: string, workers: ChildProcess[], rd: RedisClient, timeoutMs = 240_000): Promise<PartitionStatus[]> {
  const members = new Set(workers.map(memberOf));
  const deadline = Date.now() + timeoutMs;
  const admin = createKafka('test-scale-out', localConfig().brokers).admin();
  await admin.connect();
  let last: PartitionStatus[] = [];
  try {
    while (Date.now() < deadline) {
      last = await jobStatus({ ...localConfig(), topic, group: topic }, admin, rd);
      if (settled(last, members)) {
        last = await ownership(topic);
        if (settled(last, members)) return last;
      }
      await sleep(1_000);
    }
  } finally {
    await admin.disconnect();
  }
  throw new Error(`the group did not settle on ${[...members].join(', ')}; status showed ${JSON.stringify(last.map((s) => [s.partition, s.owner]))}`);
}

// Many job processes: four share 16 partitions, two join, three leave one after another (a
// rolling restart) while events keep arriving; `viewtally status` names each partition's owner,
// and the sinks end equal to the truth of the stream.
describe(`scale-out: 4 processes on ${PARTITIONS} partitions, 2 joining, 3 leaving`, () => {
  const topic = uniqueName('scale');
  let events: LabelledEvent[];
  let truth: StreamTruth;
  const sinks = sinkClients();
  const seen: { withFour: PartitionStatus[]; withThree: PartitionStatus[]; four: string[]; three: string[] } = { withFour: [], withThree: [], four: [], three: [] };
  const stops: (number | null)[] = [];
  /** The last lines of each process that did not exit 0. */
  const stopLogs: string[] = [];

  beforeAll(async () => {
    const stream = generateLabelledStream({ seed: 1616, events: 48_000, videos: 2_000, minutes: 20, startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR, mix: DETERMINISTIC_MIX });
    events = stream.toArray().map((l) => ({ ...l, event: { ...l.event, video_id: `${topic}-${l.event.video_id}` } }));
    truth = truthOf(events);
    const chunk = Math.ceil(events.length / 24);
    await produceToTopic(topic, PARTITIONS, events.slice(0, chunk).map((l) => l.event));
    const feeding = (async () => {
      for (let i = chunk; i < events.length; i += chunk) {
        await sleep(1_500);
        await produceToTopic(topic, PARTITIONS, events.slice(i, i + chunk).map((l) => l.event));
      }
    })();
    const args = ['--topic', topic, '--group', topic];
    const stop = async (w: ChildProcess & { log(): string }) => {
      const { code, log, ms } = await stopGracefully(w);
      stops.push(code);
      console.log(`stop: exit ${code} after ${ms} ms`);
      if (code !== 0) stopLogs.push(`exit ${code} after ${ms} ms\n${log}`);
    };
    const first = [0, 1, 2, 3].map(() => startWorker(args, SESSION));
    seen.withFour = await settledOn(topic, first, sinks.rd);
    seen.four = first.map(memberOf);
    const joined = [0, 1].map(() => startWorker(args, SESSION));
    await sleep(6_000);
    for (const w of first.slice(0, 3)) {
      await stop(w);
      await sleep(4_000);
    }
    const remaining = [first[3], ...joined];
    seen.withThree = await settledOn(topic, remaining, sinks.rd);
    seen.three = remaining.map(memberOf);
    await feeding;
    for (const w of remaining) await stop(w);
    // the windows still open at the end fire in a last run
    await runCli(['run', '--until-idle', ...args], SESSION);
  });

  it('shows in `viewtally status` which process owns each partition', () => {
    for (const [status, members] of [
      [seen.withFour, seen.four],
      [seen.withThree, seen.three],
    ] as const) {
      expect(status.map((s) => s.partition)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
      const share = new Map<string, number>();
      for (const s of status) share.set(processOf(s.owner)!, (share.get(processOf(s.owner)!) ?? 0) + 1);
      expect([...share.keys()].sort()).toEqual([...members].sort());
      // the coordinator spreads 16 partitions evenly: 4 each over four processes, 5 or 6 over three
      for (const n of share.values()) expect(n).toBeGreaterThanOrEqual(Math.floor(PARTITIONS / members.length));
    }
  });

  it('stops every process gracefully', () => {
    expect(stops, stopLogs.join('\n---\n')).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('ends with live totals, minute rows and outcomes equal to the truth', async () => {
    await expectSinksEqualTruth(sinks.ch, sinks.rd, { group: topic, topic }, events, truth, topic);
  });
});
