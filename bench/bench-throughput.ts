import { createServer, type AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import { globEscape, masters, scanKeys, type RedisClient } from '../sinks/redis-client.ts';
import { progressKey } from '../sinks/live-counters.ts';
import { startChild } from './bench-child.ts';
import { summariseProfile, type ProfileGroup, type ProfileSummary } from './cpu-profile.ts';
import type { ConsumeChildArgs, ConsumeSummary } from './consume-child.ts';

/** What every throughput line shares: the topic and where things are. */
export interface LineContext {
  brokers: string[];
  redisUrl: string;
  redis: RedisClient;
  /** The ClickHouse the job children write to: the one the benchmark reads and cleans up, whatever VT_CLUSTER says. */
  clickhouseUrl: string;
  topic: string;
  partitions: number;
  /** Messages in the topic. */
  expected: number;
  runId: string;
  log: (line: string) => void;
}

/** One consume line (limit or baseline): its rate, CPU cost and the checksum of what it read. */
export interface LineResult extends ConsumeSummary {
  group: string;
  cpuMicrosPerEvent: number;
  loadAverage: number[];
}

/** Reads the whole topic with one of the comparison consumers (see consume-child.ts). */
export async function runConsumeLine(ctx: LineContext, mode: ConsumeChildArgs['mode']): Promise<LineResult> {
  const group = `vt-bench-${mode}-${ctx.runId}`;
  const args: ConsumeChildArgs = { mode, brokers: ctx.brokers, topic: ctx.topic, group, expected: ctx.expected, redis: ctx.redisUrl, keyPrefix: `vt:bench-naive:${ctx.runId}:` };
  ctx.log(`${mode}: reading ${ctx.expected} events`);
  const child = startChild('bench/consume-child.ts', args, { name: `${mode}-${ctx.runId}` });
  const summary = (await child.done) as unknown as ConsumeSummary;
  // The baseline's keys (~600 000 per run) mean nothing after its line; left behind, they pile up
  // over runs and Redis's AOF rewrite of them stalls later measures (a 150 ms fork seen mid-run).
  if (mode === 'naive') await deleteKeys(ctx.redis, `${globEscape(args.keyPrefix!)}*`);
  if (summary.events < ctx.expected) throw new Error(`${mode}: read ${summary.events} of ${ctx.expected} events`);
  ctx.log(`${mode}: ${summary.eventsPerSecond} events/s`);
  return { ...summary, group, cpuMicrosPerEvent: round((summary.cpuMs * 1000) / summary.events, 1), loadAverage: loadavg().map((x) => round(x, 2)) };
}

/** Deletes every key that matches a glob, on every master. */
async function deleteKeys(redis: RedisClient, match: string): Promise<void> {
  for (const node of masters(redis)) {
    await scanKeys(node, match, async (keys) => {
      // one command per key: on a cluster's master, keys of several slots in one command are refused
      const batch = node.pipeline();
      for (const k of keys) batch.unlink(k);
      await batch.exec();
    }, 10_000);
  }
}

/**
 * Deletes what a run's jobs left behind, all of which carries the run id: every Redis key naming
 * one of its groups (checkpoint chains, positions, the freshness markers' counters) and the
 * ClickHouse copies of their checkpoints. A real-time job's checkpoints are megabytes per
 * partition; kept, they grew the local Redis by gigabytes over a day of runs (its AOF rewrites
 * then ran inside later measures), and a job keeps its groups' latest chains in ClickHouse for
 * good. The benchmark videos' live counters stay: the read API line reads them, and their number
 * is bounded by the catalogue.
 */
export async function forgetRun(redis: RedisClient, clickhouse: ClickHouseClient, runId: string): Promise<void> {
  await deleteKeys(redis, `*${globEscape(runId)}*`);
  // A run that failed before any job migrated the database has no copies (and no table) to delete.
  if (!(await hasCheckpointCopies(clickhouse))) return;
  await clickhouse.command({ query: `DELETE FROM job_checkpoints WHERE ${RUN_COPIES}`, query_params: { run: runId }, clickhouse_settings: { lightweight_deletes_sync: '0' } });
}

/** The checkpoint copies of a run's groups (every group name holds the run id), with the id as `{run:String}`. */
export const RUN_COPIES = 'position(group_id, {run:String}) > 0';

/** Whether a job has migrated this ClickHouse: the table of checkpoint copies is there. */
export async function hasCheckpointCopies(clickhouse: ClickHouseClient): Promise<boolean> {
  const exists = await (await clickhouse.query({ query: 'EXISTS TABLE job_checkpoints', format: 'JSONEachRow' })).json<{ result: number }>();
  return Number(exists[0]?.result) === 1;
}

/** The job's operators alone (bench/operator-cost-child.ts): no Kafka fetch, no sinks, no checkpoints. */
export interface OperatorCost {
  events: number;
  microsPerEvent: number;
  cpuMicrosPerEvent: number;
  stagesMicrosPerEvent: Record<string, number>;
  eventsPerSecond: number;
}

/** Runs the first `events` messages of the topic through the job's operators in a process of its own. */
export async function runOperatorCost(ctx: LineContext, events: number): Promise<OperatorCost> {
  ctx.log(`operators: ${events} events through decode → classify → windows → collect`);
  const args = { brokers: ctx.brokers, topic: ctx.topic, group: `vt-bench-operators-${ctx.runId}`, events: Math.min(events, ctx.expected), partitions: ctx.partitions };
  const r = (await startChild('bench/operator-cost-child.ts', args, { name: `operators-${ctx.runId}` }).done) as unknown as OperatorCost;
  ctx.log(`operators: ${r.cpuMicrosPerEvent} µs CPU per event (${r.eventsPerSecond} events/s)`);
  return r;
}

/** Sink latencies and the pending-events bound, as the job's Prometheus metrics report them. */
export interface JobSinkTimes {
  checkpoints: number;
  checkpointSeconds: number;
  /** Checkpoints that took longer than 1 s and 5 s. */
  checkpointsOver1s: number;
  checkpointsOver5s: number;
  liveFlushes: number;
  liveFlushSeconds: number;
  /** Highest pending-events gauge seen (consumption waits at the job's bound). */
  maxPendingEvents: number;
  /** Event-loop time of a partition checkpoint (firing windows, writing the state link): mean, and how many took over 20 ms. */
  checkpointEncodeMeanMs: number;
  checkpointEncodeOver20ms: number;
  /** Bytes of the stored state links: snapshots and changes, in all. */
  snapshotBytes: number;
  snapshots: number;
  changeBytes: number;
  changes: number;
}

/** Sums, counts and `le` buckets of a Prometheus text exposition, by series name (labels other than `le` and `kind` dropped). */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = /^(\w+)(?:\{([^}]*)\})? ([\d.eE+-]+|NaN|\+Inf)$/.exec(line);
    if (!x) continue;
    const le = x[2] ? /le="([^"]+)"/.exec(x[2])?.[1] : undefined;
    const kind = x[2] ? /kind="([^"]+)"/.exec(x[2])?.[1] : undefined;
    const key = le ? `${x[1]}{le=${le}}` : kind ? `${x[1]}{kind=${kind}}` : x[1];
    m.set(key, (m.get(key) ?? 0) + Number(x[3]));
  }
  return m;
}

function sinkTimes(m: Map<string, number>, maxPending: number): JobSinkTimes {
  const g = (k: string) => m.get(k) ?? 0;
  const count = g('viewtally_checkpoint_seconds_count');
  return {
    checkpoints: count,
    checkpointSeconds: round(g('viewtally_checkpoint_seconds_sum'), 2),
    checkpointsOver1s: count - g('viewtally_checkpoint_seconds_bucket{le=1}'),
    checkpointsOver5s: count - g('viewtally_checkpoint_seconds_bucket{le=5}'),
    liveFlushes: g('viewtally_live_flush_seconds_count'),
    liveFlushSeconds: round(g('viewtally_live_flush_seconds_sum'), 2),
    maxPendingEvents: maxPending,
    checkpointEncodeMeanMs: round((g('viewtally_checkpoint_encode_seconds_sum') * 1000) / Math.max(1, g('viewtally_checkpoint_encode_seconds_count')), 2),
    checkpointEncodeOver20ms: g('viewtally_checkpoint_encode_seconds_count') - g('viewtally_checkpoint_encode_seconds_bucket{le=0.02}'),
    snapshotBytes: g('viewtally_state_link_bytes_sum{kind=snapshot}'),
    snapshots: g('viewtally_state_link_bytes_count{kind=snapshot}'),
    changeBytes: g('viewtally_state_link_bytes_sum{kind=change}'),
    changes: g('viewtally_state_link_bytes_count{kind=change}'),
  };
}

/** A TCP port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** One point of the job run's time series. */
export interface JobPoint {
  /** Seconds since the job process started. */
  t: number;
  /** Events written to the live counters (the partitions' live positions). */
  processed: number;
  /** Events/s over the last interval. */
  rate: number;
  /** Events in the topic not yet processed. */
  lag: number;
  rssBytes: number;
  /** Events waiting for a live flush or checkpoint (the job's gauge; consumption waits above its bound). */
  pending: number;
  /** Keys in the dedup stores (the job's gauge). */
  dedupEntries: number;
  /** CPU seconds of the job process so far, all threads (its /metrics). */
  cpuSeconds: number;
}

/** The full job on the pre-loaded topic. */
export interface JobRunResult {
  group: string;
  /** Worker threads (consumer-group members) of the job process. */
  workers: number;
  events: number;
  /** From the first events visible in Redis to the last: the sustained rate. */
  seconds: number;
  eventsPerSecond: number;
  /** Start of the process to its exit (connect, migrate, join, drain, final checkpoint). */
  wallSeconds: number;
  byOutcome: Record<string, number>;
  checkpoints: number;
  windowsFired: number;
  lateEvents: number;
  cpuSeconds: number;
  cpuMicrosPerEvent: number;
  /** The same once warm (see {@link warmRun}). */
  warm: WarmRun | null;
  memory: { peakRssBytes: number; rssAt10PercentBytes: number; rssAtEndBytes: number; growthBytes: number; growthBytesPerMillionEvents: number; heapUsedAtEndBytes: number };
  /** From the job's own /metrics (last scrape before it exited): where its sink time went. */
  sinks: JobSinkTimes;
  series: JobPoint[];
  profile: ProfileSummary | null;
  loadAverage: number[];
}

/** The profile group of the bot address stage's cost in the job (issue #13). */
export const ADDRESS_STAGE = 'address stage';
/**
 * Its files: by-address records out, the stage's tasks and scoring, verdicts in, the join and the
 * views held for their verdict (in the live flushes and checkpoints too). Not its cost: what a
 * released view then goes through — its window, its outcome count, a bot's rejected row — as every
 * view does. Not on these stacks, so not counted either: the broker client's own work for the
 * internal topics (one message per flush), and the sealing of the held views in each checkpoint
 * (in pipeline/ip-privacy.ts beside the rejected rows' hash; ~0.3 % of the thread in one profile).
 */
const ADDRESS_STAGE_FILES: ProfileGroup = {
  include: /^(operators\/(address-|provisional-)|pipeline\/(address-|verdict-feed)|sinks\/address-record-sink|schemas\/(address-messages|verdict-step))/,
  exclude: /^(operators\/(tumbling-window|minute-pane|cell-index)|pipeline\/partition-task)\.ts$/,
};

/**
 * Runs the job (bench/job-child.ts: in-process `runJob`, until idle) on the topic and follows it
 * from outside: live positions in Redis every 500 ms, the process's memory every second.
 * With `profileDir`, the process runs under `--cpu-prof` and its busiest thread's profile is summarised.
 */
export async function runJobLine(ctx: LineContext, options: { workers: number; profileDir?: string; nodeArgs?: string[] }): Promise<JobRunResult> {
  const group = `vt-bench-job-w${options.workers}-${ctx.runId}`;
  const keys = Array.from({ length: ctx.partitions }, (_, p) => progressKey(group, ctx.topic, p));
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [])];
  if (options.profileDir) {
    rmSync(options.profileDir, { recursive: true, force: true });
    mkdirSync(options.profileDir, { recursive: true });
  }
  ctx.log(`job (--workers ${options.workers}): processing ${ctx.expected} events${options.profileDir ? ' (profiled)' : ''}`);
  const started = Date.now();
  let rss = 0;
  let heapUsed = 0;
  const metricsPort = await freePort();
  let metrics = new Map<string, number>();
  let maxPending = 0;
  const child = startChild('bench/job-child.ts', { topic: ctx.topic, group, untilIdle: true, workers: options.workers, metricsPort, brokers: ctx.brokers, redis: ctx.redisUrl, clickhouse: ctx.clickhouseUrl }, {
    name: `job-w${options.workers}-${ctx.runId}`,
    nodeArgs,
    onJson: (line) => {
      if (line.sample) {
        rss = line.rss as number;
        heapUsed = line.heapUsed as number;
      }
    },
  });
  const series: JobPoint[] = [];
  let firstAt = 0;
  let lastAt = 0;
  let previous = { t: 0, processed: 0 };
  let exited = false;
  const finished = child.done.finally(() => (exited = true));
  while (!exited) {
    await Promise.race([finished.catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(400) })
      .then((r) => r.text())
      .then(parseMetrics)
      .catch(() => null);
    if (scraped) metrics = scraped;
    const pending = scraped?.get('viewtally_pending_events') ?? 0;
    maxPending = Math.max(maxPending, pending);
    const processed = await livePositions(ctx.redis, keys);
    const t = (Date.now() - started) / 1000;
    if (processed > 0 && firstAt === 0) firstAt = previous.t > 0 ? previous.t : t;
    if (processed > previous.processed) lastAt = t;
    const rate = t > previous.t ? (processed - previous.processed) / (t - previous.t) : 0;
    series.push({ t: round(t, 2), processed, rate: Math.round(rate), lag: ctx.expected - processed, rssBytes: rss, pending, dedupEntries: scraped?.get('viewtally_dedup_entries') ?? 0, cpuSeconds: scraped?.get('viewtally_process_cpu_seconds_total') ?? 0 });
    previous = { t, processed };
  }
  const out = (await finished) as { summary: Record<string, unknown> & { events: number; byOutcome: Record<string, number> }; cpuMs: number; maxRss: number };
  const wallSeconds = (Date.now() - started) / 1000;
  const s = out.summary;
  if (s.events < ctx.expected) throw new Error(`job: processed ${s.events} of ${ctx.expected} events`);
  const seconds = Math.max(0.001, lastAt - firstAt);
  const tenth = series.find((p) => p.processed >= ctx.expected * 0.1 && p.rssBytes > 0) ?? series[0];
  const endRss = [...series].reverse().find((p) => p.rssBytes > 0)?.rssBytes ?? rss;
  const growth = endRss - tenth.rssBytes;
  let profile: ProfileSummary | null = null;
  if (options.profileDir) {
    // One profile per thread: the job runs on worker threads, beside the main thread and tsx's
    // loader thread; the busiest one is the job's.
    const files = readdirSync(options.profileDir).filter((f) => f.endsWith('.cpuprofile'));
    const summaries = files.map((f) => summariseProfile(join(options.profileDir!, f), 15, { [ADDRESS_STAGE]: ADDRESS_STAGE_FILES }));
    profile = summaries.sort((a, b) => b.busyMs - a.busyMs)[0] ?? null;
  }
  const result: JobRunResult = {
    group,
    workers: options.workers,
    events: s.events,
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(ctx.expected / seconds),
    wallSeconds: round(wallSeconds, 2),
    byOutcome: s.byOutcome,
    checkpoints: s.checkpoints as number,
    windowsFired: s.windowsFired as number,
    lateEvents: s.lateEvents as number,
    cpuSeconds: round(out.cpuMs / 1000, 2),
    cpuMicrosPerEvent: round((out.cpuMs * 1000) / s.events, 1),
    warm: warmRun(series, ctx.expected),
    memory: {
      peakRssBytes: out.maxRss,
      rssAt10PercentBytes: tenth.rssBytes,
      rssAtEndBytes: endRss,
      growthBytes: growth,
      growthBytesPerMillionEvents: Math.round(growth / ((ctx.expected * 0.9) / 1e6)),
      heapUsedAtEndBytes: heapUsed,
    },
    sinks: sinkTimes(metrics, maxPending),
    series,
    profile,
    loadAverage: loadavg().map((x) => round(x, 2)),
  };
  ctx.log(`job (--workers ${options.workers}): ${result.eventsPerSecond} events/s sustained, ${result.cpuMicrosPerEvent} µs CPU per event (once warm: ${result.warm ? `${result.warm.cpuMicrosPerEvent} µs, ${result.warm.eventsPerSecond} events/s` : 'too short to tell'}), ${s.events} events, peak RSS ${Math.round(out.maxRss / 2 ** 20)} MiB`);
  return result;
}

/** How a job runs once warm: CPU per event and events/s (see {@link warmRun}). */
export interface WarmRun {
  cpuMicrosPerEvent: number;
  eventsPerSecond: number;
}

/**
 * CPU per event and events/s from the first sample past a fifth of the events to the first at the
 * end position: what a long-running job does, without the first seconds of each worker thread (its
 * code compiled by the JIT, its tables growing) and the final checkpoint, which a run of a million
 * events charged at 2.4 µs per event with one worker thread and 4.7 with two (2026-12-03). Null
 * when the run was too short to tell.
 */
export function warmRun(series: JobPoint[], expected: number): WarmRun | null {
  const from = series.find((p) => p.processed >= expected * 0.2 && p.cpuSeconds > 0);
  const end = Math.max(0, ...series.map((p) => p.processed));
  // The first sample at the end position: later ones are the idle wait and the final checkpoint.
  const to = series.find((p) => p.processed === end && p.cpuSeconds > 0);
  if (from === undefined || to === undefined || to.processed <= from.processed || to.t <= from.t) return null;
  const events = to.processed - from.processed;
  return { cpuMicrosPerEvent: round(((to.cpuSeconds - from.cpuSeconds) * 1e6) / events, 1), eventsPerSecond: Math.round(events / (to.t - from.t)) };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Events the live counters hold, summed over the partitions' progress keys (one read each: on a cluster they lie in many slots). */
export async function livePositions(redis: RedisClient, keys: string[]): Promise<number> {
  const positions = await Promise.all(keys.map((k) => redis.hget(k, 'pos')));
  return positions.reduce((n, v) => n + Math.max(0, Number(v ?? 0)), 0);
}
