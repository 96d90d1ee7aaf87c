import { spawn, type ChildProcess } from 'node:child_process';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RedisClient } from '../sinks/redis-client.ts';
import { liveViews } from '../sinks/live-counters.ts';
import type { LabelledEvent } from '../bench/labelled-stream.ts';
import type { Rng } from '../bench/labelled-stream-random.ts';
import { expect } from 'vitest';
import { rows } from './harness.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A `viewtally run` worker process the tests can kill; `log()` is the tail of what it wrote to stderr. */
export function startWorker(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { log(): string } {
  const w = spawn(process.execPath, ['bin/viewtally.mjs', 'run', ...args], {
    cwd: ROOT,
    env: { ...process.env, VT_LOG_LEVEL: 'warn', VT_SESSION_TIMEOUT_MS: '6000', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  w.stderr!.on('data', (d) => (tail = (tail + d).slice(-200_000)));
  return Object.assign(w, { log: () => tail });
}

/** Resolves when the process has exited. */
export function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

/** Asks a worker to stop (SIGTERM) and waits: its exit code, how long it took, and its last log lines. */
export async function stopGracefully(w: ChildProcess & { log(): string }): Promise<{ code: number | null; ms: number; log: string }> {
  const started = Date.now();
  w.kill('SIGTERM');
  await exited(w);
  return { code: w.exitCode, ms: Date.now() - started, log: w.log().slice(-4000) };
}

/**
 * Appends events that arrive late: fresh human views hours behind the stream (counted, as
 * corrections of windows that already fired) and views more than 7 days behind (`too_late`).
 */
export function withLateEvents(events: LabelledEvent[], rng: Rng, count: number): LabelledEvent[] {
  const end = events[events.length - 1].event.ts;
  const humans = events.filter((l) => l.expected === 'counted' && l.population === 'human_signed_in');
  const late: LabelledEvent[] = [];
  for (let i = 0; i < count; i++) {
    const base = humans[rng.int(humans.length)].event;
    const tooLate = i % 4 === 0;
    late.push({
      population: 'human_signed_in',
      expected: tooLate ? 'too_late' : 'counted',
      event: {
        ...base,
        event_id: `late-${i}-${base.event_id}`,
        viewer_id: `late-viewer-${i}`,
        ts: end - (tooLate ? 8 * DAY : HOUR + rng.int(2 * HOUR)),
      },
    });
  }
  return events.concat(late);
}

/** Everything the sinks hold for videos under `prefix` (the run's topic and group), with the prefix stripped, to compare two runs. */
export async function sinkContents(ch: ClickHouseClient, redis: RedisClient, prefix: string, videos: string[]) {
  const q = (sql: string) => rows<Record<string, string>>(ch, sql, { prefix });
  const strip = (r: Record<string, string>) => JSON.stringify({ ...r, video_id: r.video_id.slice(prefix.length) });
  const sorted = async (sql: string) => (await q(sql)).map(strip).sort();
  const counts = await liveViews(redis, { group: prefix, topic: prefix }, videos.map((v) => `${prefix}${v}`));
  return {
    minute: await sorted(`SELECT toString(minute) AS t, video_id, country, device, traffic_source, toString(sum(views)) AS views FROM views_minute
      WHERE startsWith(video_id, {prefix:String}) GROUP BY t, video_id, country, device, traffic_source`),
    hour: await sorted(`SELECT toString(hour) AS t, video_id, toString(sum(views)) AS views FROM views_hour WHERE startsWith(video_id, {prefix:String}) GROUP BY t, video_id`),
    day: await sorted(`SELECT toString(day) AS t, video_id, toString(sum(views)) AS views FROM views_day WHERE startsWith(video_id, {prefix:String}) GROUP BY t, video_id`),
    outcomes: await sorted(`SELECT toString(minute) AS t, video_id, outcome, toString(sum(events)) AS events FROM view_outcomes_minute
      WHERE startsWith(video_id, {prefix:String}) GROUP BY t, video_id, outcome`),
    redis: Object.fromEntries(videos.map((v, i) => [v, counts[i]]).filter(([, n]) => n !== 0)),
  };
}

/** Two runs of one labelled stream: an undisturbed reference and a disturbed one, same partitions, video ids prefixed apart. */
export interface PairedRuns {
  reference: string;
  disturbed: string;
  events: LabelledEvent[];
  /** Produces the stream for `prefix`'s topic: all at once, or in `chunks` every `everyMs`. */
  produce(prefix: string, options?: { chunks?: number; everyMs?: number }): Promise<void>;
}

/** Prepares paired runs: the reference reads topic `<name>-ref-`, the disturbed one `<name>-<label>-`. */
export function pairedRuns(name: string, label: string, events: LabelledEvent[], produceToTopic: (topic: string, events: ViewEvent[], keyOf: (e: ViewEvent) => string) => Promise<unknown>): PairedRuns {
  const originalKey = new Map<string, string>();
  for (const l of events) originalKey.set(l.event.event_id + '|' + l.event.video_id, kafkaKey(l.event));
  return {
    reference: `${name}-ref-`,
    disturbed: `${name}-${label}-`,
    events,
    async produce(prefix, options = {}) {
      const renamed = events.map((l) => ({ ...l.event, video_id: prefix + l.event.video_id }));
      // Keys of the original events: both topics put every event in the same partition.
      const keyOf = (e: ViewEvent) => originalKey.get(e.event_id + '|' + e.video_id.slice(prefix.length))!;
      const chunks = options.chunks ?? 1;
      const size = Math.ceil(renamed.length / chunks);
      for (let i = 0; i < renamed.length; i += size) {
        await produceToTopic(prefix, renamed.slice(i, i + size), keyOf);
        if (options.everyMs && i + size < renamed.length) await new Promise((r) => setTimeout(r, options.everyMs));
      }
    },
  };
}

/** The rows only one of two runs has (a long diff of thousands of rows is cut before it shows them). */
function rowsApart(actual: string[], expected: string[]): string {
  const [a, e] = [new Set(actual), new Set(expected)];
  const extra = actual.filter((r) => !e.has(r));
  const missing = expected.filter((r) => !a.has(r));
  return `only in the disturbed run (${extra.length}): ${extra.slice(0, 20).join(' ')}\nonly in the reference (${missing.length}): ${missing.slice(0, 20).join(' ')}`;
}

/** Asserts the disturbed run's sinks equal the reference's, table by table; returns the reference's contents. */
export async function expectSameAsReference(ch: ClickHouseClient, runs: PairedRuns, videos: string[], redis: { reference: RedisClient; disturbed: RedisClient }) {
  const expected = await sinkContents(ch, redis.reference, runs.reference, videos);
  const actual = await sinkContents(ch, redis.disturbed, runs.disturbed, videos);
  expect(expected.minute.length).toBeGreaterThan(500);
  for (const table of ['minute', 'hour', 'day', 'outcomes'] as const) expect(actual[table], rowsApart(actual[table], expected[table])).toEqual(expected[table]);
  expect(actual.redis).toEqual(expected.redis);
  return expected;
}
