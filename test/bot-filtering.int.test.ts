import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream, truthOf, type LabelledEvent, type StreamTruth } from '../bench/labelled-stream.ts';
import { DEFAULT_BOT_RULES_PATH } from '../operators/bot-rules-source.ts';
import { testEvent } from '../operators/test-records.ts';
import { lastJson, produceToTopic, redis, rows, runCli, sinkClients, uniqueName } from './harness.ts';
import { exited, startWorker } from './chaos.ts';
import { progressKey } from '../sinks/live-counters.ts';

const HOUR = 3_600_000;

// The labelled stream end to end with every population, bots included: deterministic rules are
// exact, bot precision ≥ 99 % and recall ≥ 95 % (measured per event from rejected_views),
// carrier-NAT humans almost never flagged, and the outcome table accounts for every event.
describe('bot filtering end to end', () => {
  const prefix = uniqueName('bots');
  let events: LabelledEvent[];
  let truth: StreamTruth;
  const sinks = sinkClients();

  beforeAll(async () => {
    events = generateLabelledStream({ seed: 314, events: 200_000, videos: 5_000, minutes: 60, startMs: Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR })
      .toArray()
      .map((l) => ({ ...l, event: { ...l.event, video_id: `${prefix}-${l.event.video_id}` } }));
    truth = truthOf(events);
    await produceToTopic(prefix, 4, events.map((l) => l.event));
    const { stdout } = await runCli(['run', '--until-idle', '--topic', prefix, '--group', prefix]);
    console.log(`bot filtering: ${JSON.stringify(lastJson<object>(stdout))}`);
  });

  const outcomes = async () =>
    Object.fromEntries(
      (await rows<{ outcome: string; n: string }>(sinks.ch, 'SELECT outcome, sum(events) AS n FROM view_outcomes_minute WHERE startsWith(video_id, {p:String}) GROUP BY outcome', { p: prefix })).map((r) => [
        r.outcome,
        Number(r.n),
      ]),
    );

  it('accounts for every event produced, with the rules before the bot rule exact', async () => {
    const got = await outcomes();
    expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(events.length);
    for (const o of ['not_a_view', 'owner', 'too_short'] as const) expect(got[o] ?? 0).toBe(truth.outcomes[o]);
    expect(got.invalid ?? 0).toBe(0);
    expect(got.too_late ?? 0).toBe(0);
  });

  it('catches the labelled bots with precision ≥ 99 % and recall ≥ 95 %, and spares carrier-NAT humans', async () => {
    const rejected = new Set(
      (await rows<{ event_id: string }>(sinks.ch, 'SELECT event_id FROM rejected_views WHERE startsWith(video_id, {p:String})', { p: prefix })).map((r) => r.event_id),
    );
    const bots = events.filter((l) => l.expected === 'bot');
    const caught = bots.filter((l) => rejected.has(l.event.event_id)).length;
    const precision = caught / rejected.size;
    const recall = caught / bots.length;
    const nat = events.filter((l) => l.population === 'human_nat' && l.expected === 'counted');
    const natFlagged = nat.filter((l) => rejected.has(l.event.event_id)).length / nat.length;
    console.log(`bots: precision ${precision.toFixed(4)}, recall ${recall.toFixed(4)} of ${bots.length}; carrier-NAT false positives ${(natFlagged * 100).toFixed(2)} % of ${nat.length}`);
    expect(bots.length).toBeGreaterThan(5_000);
    expect(precision).toBeGreaterThanOrEqual(0.99);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(natFlagged).toBeLessThan(0.01);
  });

  it('holds the same counted views per video in ClickHouse and Redis', async () => {
    const ch_ = await rows<{ video_id: string; v: string }>(sinks.ch, 'SELECT video_id, sum(views) AS v FROM views_day WHERE startsWith(video_id, {p:String}) GROUP BY video_id', { p: prefix });
    const inClickHouse = new Map(ch_.map((r) => [r.video_id, Number(r.v)]));
    const ids = [...inClickHouse.keys()];
    const values = await liveViews(sinks.rd, { group: prefix, topic: prefix }, ids);
    expect(new Map(ids.map((id, i) => [id, values[i]]))).toEqual(inClickHouse);
    expect(ids.length).toBeGreaterThan(1_000);
  });
});

// Weights and lists are configuration the running job reloads: a change decides new events
// differently, without a restart.
describe('bot rules reload', () => {
  it('stops flagging a ja3 fingerprint once its weight is set to 0 in the rules file', async () => {
    const prefix = uniqueName('reload');
    const dir = mkdtempSync(join(tmpdir(), 'vt-rules-'));
    const rulesPath = join(dir, 'bot-rules.json');
    copyFileSync(DEFAULT_BOT_RULES_PATH, rulesPath);
    const rules = JSON.parse(readFileSync(rulesPath, 'utf8'));
    const ja3 = rules.ja3Deny[0] as string;
    const now = Date.now();
    const batch = (name: string, at: number) =>
      Array.from({ length: 20 }, (_, i) =>
        testEvent({ event_id: `${prefix}-${name}-${i}`, video_id: `${prefix}-${name}`, viewer_id: `${prefix}-${name}-viewer-${i}`, session_id: `${name}-${i}`, ts: at + i, ja3, ip: `198.51.100.${i + 1}` }),
      );
    const worker = startWorker(['--topic', prefix, '--group', prefix], { VT_BOT_RULES: rulesPath, VT_CHECKPOINT_INTERVAL_MS: '1000' });
    const rd = redis();
    // Events are decided once the job's live position (flushed every 0.25 s) is past them in both partitions.
    const decided = async (name: string, events: number) => {
      for (let waited = 0; waited < 120_000; waited += 500) {
        const positions = await Promise.all([0, 1].map((p) => rd.hget(progressKey(prefix, prefix, p), 'pos')));
        if (positions.reduce((n, pos) => n + Math.max(0, Number(pos ?? 0)), 0) >= events) return;
        await sleep(500);
      }
      throw new Error(`the job did not decide the ${name} batch within 2 minutes:\n${worker.log().slice(-2000)}`);
    };
    try {
      await produceToTopic(prefix, 2, batch('before', now - 60_000));
      await decided('before', 20);
      rules.weights.ja3 = 0;
      writeFileSync(rulesPath, JSON.stringify(rules));
      await sleep(3_000); // the job polls the file every second
      await produceToTopic(prefix, 2, batch('after', now - 50_000));
      await decided('after', 40);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
    }
    await runCli(['run', '--until-idle', '--topic', prefix, '--group', prefix], { VT_BOT_RULES: rulesPath });
    try {
      expect(await liveViews(rd, { group: prefix, topic: prefix }, [`${prefix}-before`, `${prefix}-after`])).toEqual([0, 20]);
    } finally {
      rd.disconnect();
    }
  });
});

// The address stage's topics belong to a job (its group), not to the topic it reads: a second job
// on the same topic with other rules (a new deployment beside the old) decides as it would alone.
describe('two jobs on one topic', () => {
  it("judges addresses from its own records and verdicts only: a job with the velocity signal off beside one with it on decides as it does alone", async () => {
    const prefix = uniqueName('two-jobs');
    const events = generateLabelledStream({ seed: 2718, events: 30_000, videos: 500, minutes: 20, startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR })
      .toArray()
      .map((l) => ({ ...l.event, video_id: `${prefix}-${l.event.video_id}` }));
    const dir = mkdtempSync(join(tmpdir(), 'vt-rules-'));
    const noVelocity = join(dir, 'bot-rules.json');
    const rules = JSON.parse(readFileSync(DEFAULT_BOT_RULES_PATH, 'utf8'));
    rules.weights.ip_velocity = 0;
    writeFileSync(noVelocity, JSON.stringify(rules));
    const run = async (topic: string, group: string, env: Record<string, string> = {}) =>
      lastJson<{ byOutcome: Record<string, number> }>((await runCli(['run', '--until-idle', '--topic', topic, '--group', group], env)).stdout).byOutcome;
    await produceToTopic(`${prefix}-alone`, 4, events);
    const alone = await run(`${prefix}-alone`, `${prefix}-alone`, { VT_BOT_RULES: noVelocity });
    await produceToTopic(prefix, 4, events);
    const withVelocity = await run(prefix, `${prefix}-first`);
    const beside = await run(prefix, `${prefix}-second`, { VT_BOT_RULES: noVelocity });
    expect(withVelocity.bot).toBeGreaterThan(alone.bot + 100); // the velocity signal matters on this stream
    expect(beside).toEqual(alone);
  });
});
