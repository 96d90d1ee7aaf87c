import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createRedisClient } from '../sinks/redis-client.ts';
import { infraUp } from '../infra/services.ts';
import { clusterUp } from '../infra/cluster.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { benchCacheDir, loadEventPool, preloadTopic, type EventPool, type PreloadedTopic } from './bench-load.ts';
import { forgetRun, runConsumeLine, runJobLine, runOperatorCost, round, type JobRunResult, type LineContext, type LineResult, type OperatorCost } from './bench-throughput.ts';
import { runFreshness, type FreshnessAttempt } from './bench-freshness.ts';
import { runApiLoad, type ApiResult } from './bench-api.ts';
import { readDashboardReference, runDashboardLatency, type DashboardResult } from './bench-dashboard.ts';
import { measureDedupState, measureRestore, type DedupState, type RestoreMeasure } from './bench-memory.ts';
import { measureBotAccuracy, type BenchAccuracy } from './bench-accuracy.ts';
import { machineInfo, versions, type MachineInfo, type Versions } from './bench-env.ts';
import { evaluateTargets, renderMarkdown, type TargetRow } from './bench-report.ts';
import { renderChart } from './bench-chart.ts';

/** What a run measures and how big it is; {@link benchDefaults} gives the full and the tiny run. */
export interface BenchOptions {
  tiny: boolean;
  seed: number;
  /** Events pre-loaded into the topic the throughput lines read. */
  events: number;
  partitions: number;
  /** Event-time span of the pre-loaded stream (minutes) and its catalogue. */
  minutes: number;
  videos: number;
  /** Freshness: the produce rate tried first, for how long, and how many lower rates after it if the box cannot sustain it. */
  freshRate: number;
  freshSeconds: number;
  freshAttempts: number;
  apiRate: number;
  apiSeconds: number;
  dashboardRows: number;
  dashboardRuns: number;
  /** Kafka clients measured for the limit line (kafkajs is the one the job uses). */
  clients: ('kafkajs' | 'platformatic')[];
  /** Run the job under `node --cpu-prof` and summarise its hot spots. */
  profile: boolean;
  /** Worker threads of the job's second line (the first always runs one: its ratio to the limit line). */
  workers: number;
  /** Extra node flags of the job processes (an experiment, e.g. `--max-semi-space-size=64`); none by default. */
  jobNodeArgs: string[];
  /** Reuse a pre-loaded topic of the same stream from an earlier run. */
  reuse: boolean;
  /** Only the dashboard measure (e.g. the 100 M-row reference), written to `dashboard-<rows>.json`. */
  dashboardOnly: boolean;
  /** Only the kafkajs limit line and the job with one worker, printed: the loop of performance work (one change, one measure). */
  jobOnly: boolean;
  /** Only the freshness measure, its attempts printed (not written): the same loop for live-count latency. */
  freshnessOnly: boolean;
  /** Also run the job on the local cluster (three Kafka brokers, Redis Cluster), beside the single-node line. */
  cluster: boolean;
  out: string;
}

/** Defaults of the full run (`npm run bench`) or of `--tiny` (seconds, for the test). */
export function benchDefaults(tiny: boolean): BenchOptions {
  return {
    tiny,
    seed: 20261123,
    events: tiny ? 20_000 : 5_000_000,
    partitions: 4,
    minutes: tiny ? 10 : 240,
    videos: 1_000_000,
    freshRate: tiny ? 2_000 : 50_000,
    freshSeconds: tiny ? 3 : 20,
    freshAttempts: tiny ? 1 : 3,
    apiRate: tiny ? 500 : 5_000,
    apiSeconds: tiny ? 2 : 10,
    dashboardRows: tiny ? 30_000 : 2_000_000,
    dashboardRuns: tiny ? 3 : 20,
    clients: ['kafkajs', 'platformatic'],
    profile: false,
    workers: availableParallelism(),
    jobNodeArgs: [],
    reuse: true,
    dashboardOnly: false,
    jobOnly: false,
    freshnessOnly: false,
    cluster: !tiny,
    out: new URL('./results', import.meta.url).pathname,
  };
}

/** Everything one run measured: written as latest.json, rendered as latest.md and latest.svg. */
export interface BenchResults {
  schema: 1;
  mode: 'full' | 'tiny';
  seed: number;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  phaseSeconds: Record<string, number>;
  machine: MachineInfo & { loadAverageAtEnd: number[] };
  versions: Versions;
  options: Omit<BenchOptions, 'out'>;
  load: PreloadedTopic;
  throughput: {
    /** The job with one worker thread: its ratio to the limit line. */
    job: JobRunResult;
    /** The job with the default worker threads (one per core): the process's throughput. */
    jobThreads: JobRunResult | null;
    /** The same job on the local cluster: 3 brokers (replication 3, acks=all), a 3-master Redis Cluster; null when not run. */
    jobCluster: JobRunResult | null;
    limit: Record<string, LineResult>;
    baseline: LineResult;
    operators: OperatorCost;
    jobToLimit: number;
    jobToBaseline: number;
  };
  freshness: { attempts: FreshnessAttempt[]; chosen: FreshnessAttempt };
  memory: { job: JobRunResult['memory']; dedup: DedupState; restore: RestoreMeasure };
  /** Bot verdicts of the stream, both stages' operators in memory, against its labels. */
  accuracy: BenchAccuracy;
  api: ApiResult;
  /** The read API on the cluster layout (counters summed over partitions, on a Redis Cluster); null when not run. */
  apiCluster: ApiResult | null;
  dashboard: { run: DashboardResult; reference100M: DashboardResult | null };
  targets: TargetRow[];
}

/** Runs the benchmark end to end against the local services and writes its results to `options.out`. */
export async function runBench(options: BenchOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<BenchResults | DashboardResult | JobRunResult | FreshnessAttempt[]> {
  const started = Date.now();
  const phaseSeconds: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      phaseSeconds[name] = round((Date.now() - t) / 1000, 1);
      log(`[${name}: ${phaseSeconds[name]} s, load ${loadavg()[0].toFixed(2)}]`);
    }
  };
  mkdirSync(options.out, { recursive: true });
  if (options.dashboardOnly) {
    const machine = machineInfo();
    const run = await phase('dashboard', () => runDashboardLatency({ rows: options.dashboardRows, runs: options.dashboardRuns, log }));
    const file = join(options.out, options.dashboardRows >= 100_000_000 ? 'dashboard-100m.json' : `dashboard-${options.dashboardRows}.json`);
    writeFileSync(file, `${JSON.stringify({ ...run, machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) } }, null, 2)}\n`);
    log(`wrote ${file}`);
    return run;
  }
  const machine = machineInfo();
  await phase('infra', () => infraUp({ timeoutMs: 150_000 }));
  // the single-node lines, even where VT_CLUSTER=1 points commands at the cluster: its lines come from cluster.json
  const config = resolveJobConfig({}, { ...process.env, VT_CLUSTER: '' });
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const redis = createRedisClient(config.redis);
  const freshness = (pool: EventPool) =>
    phase('freshness', () => measureFreshness(options, { brokers: config.brokers, redis, redisUrl: config.redis, clickhouseUrl: config.clickhouse, partitions: options.partitions, pool, runId, log, jobNodeArgs: options.jobNodeArgs, workers: options.workers }));
  const clickhouse = createClickHouseClient(config.clickhouse);
  if (options.freshnessOnly) {
    try {
      const pool = await phase('pool', () => loadFreshnessPool(options, log));
      const attempts = await freshness(pool);
      for (const { series, ...a } of attempts) log(JSON.stringify(a));
      return attempts;
    } finally {
      await forgetRun(redis, clickhouse, runId);
      redis.disconnect();
      await clickhouse.close();
    }
  }
  try {
    const versionInfo = await versions(redis, clickhouse);
    log(`bench ${runId}: ${options.tiny ? 'tiny' : 'full'} run, seed ${options.seed}, ${machine.cpus} cores, load ${machine.loadAverageAtStart.join(' ')}`);
    const [load, pool] = await phase('preload', () =>
      Promise.all([
        preloadTopic({ brokers: config.brokers, partitions: options.partitions, seed: options.seed, events: options.events, minutes: options.minutes, videos: options.videos, reuse: options.reuse, log }),
        loadFreshnessPool(options, log),
      ]),
    );
    const ctx: LineContext = { brokers: config.brokers, redisUrl: config.redis, redis, clickhouseUrl: config.clickhouse, topic: load.topic, partitions: load.partitions, expected: options.events, runId, log };
    const limit: Record<string, LineResult> = {};
    for (const client of options.clients) limit[client] = await phase(`limit-${client}`, () => runConsumeLine(ctx, client));
    if (options.jobOnly) return await jobAgainstLimit(ctx, options, limit, runId, phase, log);
    const baseline = await phase('baseline', () => runConsumeLine(ctx, 'naive'));
    const operators = await phase('operators', () => runOperatorCost(ctx, options.tiny ? options.events : 500_000));
    const profileDir = options.profile ? join(benchCacheDir(), `profile-${runId}`) : undefined;
    const job = await phase('job', () => runJobLine(ctx, { workers: 1, profileDir, nodeArgs: options.jobNodeArgs }));
    const jobThreads = options.workers > 1 ? await phase('job-threads', () => runJobLine(ctx, { workers: options.workers, nodeArgs: options.jobNodeArgs })) : null;
    const onCluster = options.cluster ? await phase('cluster', () => runClusterLines(options, clickhouse, config.clickhouse, runId, log)) : null;
    const dedup = await phase('dedup-state', () => measureDedupState(redis, job.group, load.topic, load.partitions, config));
    const restore = await phase('restore', async () => measureRestore(config, options.tiny ? 20_000 : 2_000_000));
    const accuracy = await phase('bot-accuracy', async () => measureBotAccuracy(load.shape, load.partitions, config.botRulesPath));

    const attempts = await freshness(pool);
    const chosen = attempts.find((a) => a.sustained) ?? attempts[attempts.length - 1];
    const api = await phase('api', () => runApiLoad({ redisUrl: config.redis, clickhouse: config.clickhouse, redis, scope: { group: job.group, topic: load.topic }, rate: options.apiRate, seconds: options.apiSeconds, log }));
    const dashboard = await phase('dashboard', () => runDashboardLatency({ rows: options.dashboardRows, runs: options.dashboardRuns, log }));

    const kafkajs = limit.kafkajs ?? Object.values(limit)[0];
    const { out, ...optionsShown } = options;
    const results: BenchResults = {
      schema: 1,
      mode: options.tiny ? 'tiny' : 'full',
      seed: options.seed,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      durationSeconds: round((Date.now() - started) / 1000, 1),
      phaseSeconds,
      machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
      versions: versionInfo,
      options: optionsShown,
      load,
      throughput: {
        job,
        jobThreads,
        jobCluster: onCluster?.job ?? null,
        limit,
        baseline,
        operators,
        jobToLimit: round(job.eventsPerSecond / kafkajs.eventsPerSecond, 3),
        jobToBaseline: round(job.eventsPerSecond / baseline.eventsPerSecond, 3),
      },
      freshness: { attempts, chosen },
      memory: { job: job.memory, dedup, restore },
      accuracy,
      api,
      apiCluster: onCluster?.api ?? null,
      dashboard: { run: dashboard, reference100M: readDashboardReference(out) },
      targets: [],
    };
    results.targets = evaluateTargets(results);
    writeResults(out, results);
    log(`wrote ${join(out, 'latest.json')}, latest.md, latest.svg in ${results.durationSeconds} s`);
    return results;
  } finally {
    await forgetRun(redis, clickhouse, runId);
    redis.disconnect();
    await clickhouse.close();
  }
}

/** The events the freshness measure produces: enough for its rate and time, from a seed of their own. */
function loadFreshnessPool(options: BenchOptions, log: (line: string) => void): Promise<EventPool> {
  const events = Math.ceil(options.freshRate * options.freshSeconds * 1.05);
  return loadEventPool({ seed: options.seed + 1, events, minutes: Math.max(10, Math.ceil(events / 20_000)), videos: options.videos, startMs: Date.UTC(2025, 0, 6) }, log);
}

/** Freshness at the asked rate; while the box cannot sustain it, again a bit under what it showed, up to `freshAttempts` runs. */
async function measureFreshness(options: BenchOptions, ctx: Parameters<typeof runFreshness>[0]): Promise<FreshnessAttempt[]> {
  const attempts: FreshnessAttempt[] = [];
  let rate = options.freshRate;
  for (let i = 0; i < options.freshAttempts; i++) {
    const a = await runFreshness(ctx, rate, options.freshSeconds, i);
    attempts.push(a);
    if (a.sustained) break;
    const shown = Math.min(a.producedRate, a.processedRate > 0 ? a.processedRate : a.producedRate);
    rate = Math.max(1_000, Math.floor((0.85 * shown) / 1_000) * 1_000);
  }
  return attempts;
}

/** `--job-only`: the job (`--workers`, one thread by default) beside the limit lines of the same run, its profile, printed as one JSON line. */
async function jobAgainstLimit(
  ctx: LineContext,
  options: BenchOptions,
  limit: Record<string, LineResult>,
  runId: string,
  phase: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
  log: (line: string) => void,
): Promise<JobRunResult> {
  const profileDir = options.profile ? join(benchCacheDir(), `profile-${runId}`) : undefined;
  const job = await phase('job', () => runJobLine(ctx, { workers: options.workers, profileDir, nodeArgs: options.jobNodeArgs }));
  const limits = Object.fromEntries(Object.entries(limit).map(([client, l]) => [client, { eventsPerSecond: l.eventsPerSecond, cpuMicrosPerEvent: l.cpuMicrosPerEvent }]));
  const kafkajs = limit.kafkajs ?? Object.values(limit)[0];
  log(JSON.stringify({ workers: options.workers, events: job.events, eventsPerSecond: job.eventsPerSecond, cpuMicrosPerEvent: job.cpuMicrosPerEvent, warm: job.warm, checkpointEncodeMeanMs: job.sinks.checkpointEncodeMeanMs, checkpoints: job.sinks.checkpoints, limits, jobToLimit: kafkajs ? round(job.eventsPerSecond / kafkajs.eventsPerSecond, 3) : null, profileDir }));
  if (job.profile) for (const list of [job.profile.selfTop, job.profile.byPlace, job.profile.groups]) for (const h of list) log(`${h.ms} ms  ${(100 * h.share).toFixed(1)} %  ${h.name}`);
  return job;
}

/** The job line and the read API again on the local cluster (started if needed), on the same stream pre-loaded there; ClickHouse stays the benchmark's. */
async function runClusterLines(options: BenchOptions, clickhouse: ClickHouseClient, clickhouseUrl: string, runId: string, log: (line: string) => void): Promise<{ job: JobRunResult; api: ApiResult }> {
  const cluster = await clusterUp({ timeoutMs: 240_000, log });
  const load = await preloadTopic({ brokers: cluster.kafka.brokers, partitions: options.partitions, seed: options.seed, events: options.events, minutes: options.minutes, videos: options.videos, reuse: options.reuse, log });
  const redis = createRedisClient(cluster.redis.url);
  try {
    const ctx: LineContext = { brokers: cluster.kafka.brokers, redisUrl: cluster.redis.url, redis, clickhouseUrl, topic: load.topic, partitions: load.partitions, expected: options.events, runId: `${runId}-cluster`, log };
    const job = await runJobLine(ctx, { workers: 1, nodeArgs: options.jobNodeArgs });
    const api = await runApiLoad({ redisUrl: cluster.redis.url, clickhouse: clickhouseUrl, redis, scope: { group: job.group, topic: load.topic }, rate: options.apiRate, seconds: options.apiSeconds, log });
    return { job, api };
  } finally {
    await forgetRun(redis, clickhouse, runId);
    redis.disconnect();
  }
}

function writeResults(dir: string, results: BenchResults): void {
  // Infinity (a marker never seen) has no JSON form: it is written as null and reported as such.
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), renderMarkdown(results));
  writeFileSync(join(dir, 'latest.svg'), renderChart(results));
}
