import { beforeAll, describe, expect, it } from 'vitest';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream, truthOf, type LabelledEvent, type StreamTruth } from '../bench/labelled-stream.ts';
import { Rng } from '../bench/labelled-stream-random.ts';
import { outcomeKey } from '../bench/labelled-stream-truth.ts';
import { minuteViews } from './sink-truth.ts';
import { lastJson, produceToTopic, rows, runCli, sinkClients, uniqueName, DETERMINISTIC_MIX } from './harness.ts';
import { shuffleWithinMinutes } from './shuffle.ts';
import { withLateEvents } from './chaos.ts';

const HOUR = 3_600_000;

// The foundation's promise: events spread over 4 partitions and shuffled within each minute come
// out of `run --until-idle` with ClickHouse and Redis equal to the truth, exactly. The stream
// holds only rules that are exact by construction (no bots: their scoring has its own tests).
// On the cluster layout (VT_CLUSTER=1) the two-thread run alone: one thread adds nothing there.
describe.each(process.env.VT_CLUSTER === '1' ? [2] : [1, 2])('end to end: Kafka → job (--workers %i) → ClickHouse + Redis', (workers) => {
  const prefix = uniqueName(`e2e-w${workers}`);
  const topic = prefix;
  let events: LabelledEvent[];
  let truth: StreamTruth;
  const sinks = sinkClients();
  let summary: { events: number; eventsPerSecond: number; byOutcome: Record<string, number> };

  beforeAll(async () => {
    const stream = generateLabelledStream({
      seed: 20261123,
      events: 120_000,
      videos: 3_000,
      minutes: 40,
      startMs: Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR,
      mix: DETERMINISTIC_MIX,
    });
    const rng = new Rng(7);
    // shuffled within each minute, then hours-late and days-too-late events at the end
    events = withLateEvents(
      shuffleWithinMinutes(
        stream.toArray().map((l) => ({ ...l, event: { ...l.event, video_id: `${prefix}-${l.event.video_id}` } })),
        () => rng.float(),
      ),
      rng,
      1_200,
    );
    truth = truthOf(events);
    await produceToTopic(topic, 4, events.map((l) => l.event));
    const { stdout } = await runCli(['run', '--until-idle', '--workers', String(workers), '--topic', topic, '--group', prefix]);
    summary = lastJson(stdout);
    console.log(`end-to-end (--workers ${workers}): ${summary.events} events in one run, ${summary.eventsPerSecond} events/s`);
  });

  it('processes every produced event once, with the expected outcomes', () => {
    expect(events.length).toBeGreaterThanOrEqual(100_000);
    expect(summary.events).toBe(events.length);
    const expected = Object.fromEntries(Object.entries(truth.outcomes).filter(([, n]) => n > 0));
    expect(summary.byOutcome).toEqual(expected);
    expect(truth.outcomes.counted).toBeGreaterThan(30_000); // the stream is mostly heartbeats, refreshes and short watches besides
  });

  it('stores counted views per (minute, video, country, device, traffic source) exactly', async () => {
    const actual = await minuteViews(sinks.ch, prefix);
    expect(actual.size).toBe(truth.countedByMinuteDims.size);
    expect(actual).toEqual(truth.countedByMinuteDims);
  });

  it('rolls the minutes up into hours and days that equal the truth', async () => {
    for (const [table, column, unit] of [
      ['views_hour', 'hour', HOUR],
      ['views_day', 'day', 24 * HOUR],
    ] as const) {
      const expected = new Map<string, number>();
      for (const [key, n] of truth.countedByMinuteDims) {
        const [minute, video] = key.split('|');
        const k = `${Math.floor(Number(minute) / unit) * unit}|${video}`;
        expected.set(k, (expected.get(k) ?? 0) + n);
      }
      const got = await rows<{ t: string; video_id: string; views: string }>(
        sinks.ch,
        `SELECT toUnixTimestamp(${column}) * 1000 AS t, video_id, sum(views) AS views FROM ${table} WHERE startsWith(video_id, {prefix:String}) GROUP BY t, video_id`,
        { prefix },
      );
      expect(new Map(got.map((r) => [`${r.t}|${r.video_id}`, Number(r.views)]))).toEqual(expected);
    }
  });

  // The hours-late events are in the minute truth above, in their own minutes; whether their
  // window had fired when they came depends on timing, so correction panes have unit tests.
  it('leaves events more than 7 days late out as too_late', () => {
    expect(truth.outcomes.too_late).toBe(300);
    expect(summary.byOutcome.too_late).toBe(300);
  });

  it('accounts for every event in the outcome table', async () => {
    const got = await rows<{ minute: string; video_id: string; outcome: string; events: string }>(
      sinks.ch,
      `SELECT toUnixTimestamp(minute) * 1000 AS minute, video_id, outcome, sum(events) AS events
       FROM view_outcomes_minute WHERE startsWith(video_id, {prefix:String})
       GROUP BY minute, video_id, outcome`,
      { prefix },
    );
    const actual = new Map(got.map((r) => [outcomeKey(Number(r.minute), r.video_id, r.outcome as never), Number(r.events)]));
    expect([...actual.values()].reduce((a, b) => a + b, 0)).toBe(events.length);
    expect(actual).toEqual(truth.outcomesByMinute);
  });

  it('holds every video’s total in Redis exactly, and nothing for videos without counted views', async () => {
    const ids = [...new Set(events.map((l) => l.event.video_id))];
    const values = await liveViews(sinks.rd, { group: prefix, topic }, ids);
    const actual = new Map<string, number>();
    ids.forEach((id, i) => {
      if (values[i] !== 0) actual.set(id, values[i]);
    });
    expect(actual).toEqual(truth.countedByVideo);
  });
});
