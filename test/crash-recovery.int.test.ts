import { beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateLabelledStream, type LabelledEvent } from '../bench/labelled-stream.ts';
import { Rng } from '../bench/labelled-stream-random.ts';
import { lastJson, produceToTopic, rows, runCli, sinkClients, uniqueName } from './harness.ts';
import { byAddressTopic } from '../schemas/address-messages.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { exited, expectSameAsReference, pairedRuns, sinkContents, startWorker, withLateEvents, type PairedRuns } from './chaos.ts';

// Size is configurable: the default keeps `npm test` short (and is as large on the cluster: with
// half the events, an address-stage partition was not always taken over twice); a release check runs e.g.
// VT_CRASH_EVENTS=400000 VT_CRASH_KILLS=100 VT_CRASH_WORKERS=3 npx vitest run test/crash-recovery
const SEED = Number(process.env.VT_CRASH_SEED ?? 424242);
const EVENTS = Number(process.env.VT_CRASH_EVENTS ?? 60_000);
const KILLS = Number(process.env.VT_CRASH_KILLS ?? 20);
const WORKERS = Number(process.env.VT_CRASH_WORKERS ?? 3);
const HOUR = 3_600_000;

// The promise: whatever moment workers die (kill -9, many times, also between a ClickHouse
// insert and its checkpoint and inside a Redis flush) and however partitions move, the sinks end
// exactly where an undisturbed run ends. Each worker runs both stages (counting and address), so
// every kill stops both; the stream's view farms make the address stage's verdicts matter. Both runs read the same events in the same partitions;
// only the video ids differ by prefix. The killed processes run one or two worker threads each.
describe(`crash recovery (seed ${SEED}, ${EVENTS} events, ${KILLS} kills, ${WORKERS} workers)`, () => {
  let stream: LabelledEvent[];
  let runs: PairedRuns;
  const sinks = sinkClients();
  let kills = 0;
  let crashes = 0;
  const addressEpochs = (run: string) =>
    Promise.all([0, 1, 2, 3].map(async (p) => Number(await sinks.rd.hget(progressKey(`${run}.address`, byAddressTopic(run, run), p), 'epoch'))));


  beforeAll(async () => {
    const rng = new Rng(SEED);
    const generated = generateLabelledStream({ seed: SEED, events: EVENTS, videos: 2_000, minutes: 30, startMs: Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR }).toArray();
    stream = withLateEvents(generated, rng, Math.ceil(EVENTS / 100));
    runs = pairedRuns(uniqueName('crash'), 'kill', stream, (topic, events, keyOf) => produceToTopic(topic, 4, events, keyOf));
    const { reference, disturbed: chaos } = runs;

    await runs.produce(reference);
    await runCli(['run', '--until-idle', '--workers', '1', '--topic', reference, '--group', reference]);

    // The chaos run: events arrive while workers are killed at random moments and restarted.
    const feeding = runs.produce(chaos, { chunks: 40, everyMs: 500 });
    const workers: (ChildProcess | null)[] = [];
    let spawned = 0;
    const spawnWorker = (slot: number) => {
      // Even slots run two worker threads per process, odd ones one: both are killed and replaced alike.
      const w = startWorker(['--topic', chaos, '--group', chaos, '--workers', slot % 2 === 0 ? '2' : '1'], {
        VT_CHECKPOINT_INTERVAL_MS: '1000',
        VT_CRASH_POINTS: 'after-redis-checkpoint:0.08,after-clickhouse-insert:0.08,during-redis-commit:0.02,mid-batch:0.003',
        VT_CRASH_SEED: String(SEED * 1000 + ++spawned),
      });
      w.once('exit', (code, signal) => {
        if (workers[slot] !== w) return;
        if (signal === 'SIGKILL' && !killedByTest.has(w)) crashes++;
        workers[slot] = null;
      });
      workers[slot] = w;
    };
    const killedByTest = new Set<ChildProcess>();
    // Random kills can miss an address-stage partition's owner: go on killing (up to twice as many more)
    // until each of them has been taken over at least once after its first claim.
    const addressTakenOver = async () => (await addressEpochs(chaos)).every((e) => e >= 2);
    for (let s = 0; s < WORKERS; s++) spawnWorker(s);
    while (kills < KILLS || (kills < 3 * KILLS && !(await addressTakenOver()))) {
      await sleep(1500 + rng.int(2500));
      const slot = rng.int(WORKERS);
      const w = workers[slot];
      if (w) {
        killedByTest.add(w);
        w.kill('SIGKILL');
        await exited(w);
        kills++;
      }
      for (let s = 0; s < WORKERS; s++) if (!workers[s]) spawnWorker(s); // crash points kill too: restart those
    }
    await feeding;
    for (const w of workers) {
      if (w) {
        killedByTest.add(w);
        w.kill('SIGKILL');
        await exited(w);
      }
    }
    // After the storm, one clean worker finishes the topic.
    const { stdout } = await runCli(['run', '--until-idle', '--workers', '2', '--topic', chaos, '--group', chaos], { VT_SESSION_TIMEOUT_MS: '6000' });
    console.log(`crash recovery: ${kills} kills by the test, ${crashes} by crash points; final run ${JSON.stringify(lastJson<object>(stdout))}`);
  });

  it('killed workers at least as often as asked', () => {
    expect(kills).toBeGreaterThanOrEqual(KILLS);
  });

  it('ends with ClickHouse minute, hour and day totals, the outcome table and Redis exactly as the undisturbed run', async () => {
    const videos = [...new Set(stream.map((l) => l.event.video_id))];
    const expected = await expectSameAsReference(sinks.ch, runs, videos, { reference: sinks.rd, disturbed: sinks.rd });
    expect(expected.minute.length).toBeGreaterThan(1000);
    const outcomeEvents = expected.outcomes.reduce((n, r) => n + Number(JSON.parse(r).events), 0);
    expect(outcomeEvents).toBe(stream.length);
  });

  it('killed the address stage too: its partitions were taken over again and again, and its verdicts decided the same bots in both runs', async () => {
    // claimed first, then again after kills, and once more by the final run
    expect((await addressEpochs(runs.disturbed)).every((e) => e >= 3)).toBe(true);
    const addressBots = async (prefix: string) =>
      Number(
        (await rows<{ n: string }>(sinks.ch, "SELECT count() AS n FROM rejected_views WHERE startsWith(video_id, {p:String}) AND has(reasons, 'ip_velocity')", { p: prefix }))[0].n,
      );
    const reference = await addressBots(runs.reference);
    expect(reference).toBeGreaterThan(500);
    expect(await addressBots(runs.disturbed)).toBe(reference);
  });

  it('counted the late events as corrections and left the too-late ones out', async () => {
    const late = stream.filter((l) => l.event.event_id.startsWith('late-'));
    const tooLate = late.filter((l) => l.expected === 'too_late').length;
    const expected = await sinkContents(sinks.ch, sinks.rd, runs.reference, []);
    const tooLateRows = expected.outcomes.map((r) => JSON.parse(r)).filter((r) => r.outcome === 'too_late');
    expect(tooLateRows.reduce((n, r) => n + Number(r.events), 0)).toBe(tooLate);
  });
});
