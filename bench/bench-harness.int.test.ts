import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchDefaults, runBench, type BenchResults } from './bench-harness.ts';
import { hasCheckpointCopies, RUN_COPIES } from './bench-throughput.ts';
import { createRedisClient } from '../sinks/redis-client.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';

/** Paths of every null and every non-finite number in a parsed JSON value. */
function holes(value: unknown, path = ''): string[] {
  if (value === null) return [path];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => holes(v, `${path}.${i}`));
  if (typeof value === 'object') return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => holes(v, path ? `${path}.${k}` : k));
  return [];
}

// The benchmark in tiny mode against the real local services and the local cluster (it runs in
// the cluster project), so the harness cannot rot: every part runs, and the result file has every
// field with a sane value.
describe('bench harness (tiny)', () => {
  const out = mkdtempSync(join(tmpdir(), 'vt-bench-'));
  const options = { ...benchDefaults(true), workers: 2, cluster: true, out };
  let results: BenchResults;

  beforeAll(async () => {
    await runBench(options, () => {});
    results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResults;
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('records the machine, the versions and the seed', () => {
    expect(results.mode).toBe('tiny');
    expect(results.seed).toBe(options.seed);
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(results.machine.memoryBytes).toBeGreaterThan(0);
    expect(results.machine.loadAverageAtStart).toHaveLength(3);
    expect(results.machine.loadAverageAtEnd).toHaveLength(3);
    for (const v of [results.versions.node, results.versions.kafka, results.versions.clickhouse, results.versions.redis, results.versions.git.commit]) {
      expect(v).toMatch(/\d/);
    }
    expect(results.versions.packages.kafkajs).toMatch(/^\d+\.\d+/);
    expect(results.versions.packages['@platformatic/kafka']).toMatch(/^1\./);
    expect(results.durationSeconds).toBeGreaterThan(0);
  });

  it('has every field, with no null or non-finite number where a measure belongs', () => {
    // Not measured in a tiny run: the 100 M-row reference, profiles, and a job once warm (its 20 000 events may pass within two samples; `warmRun` is tested in bench-parsers.test.ts).
    const allowed = /^(dashboard\.reference100M|throughput\.job(Threads|Cluster)?\.(profile|warm)|targets\.\d+\.met)$/;
    expect(holes(results).filter((p) => !allowed.test(p))).toEqual([]);
  });

  it('measures the job (one and two worker threads), the limit lines and the baseline on the same events', () => {
    const { job, jobThreads, limit, baseline } = results.throughput;
    expect(jobThreads?.workers).toBe(2);
    for (const line of [job, jobThreads!]) {
      expect(line.events).toBe(options.events);
      expect(line.eventsPerSecond).toBeGreaterThan(0);
      expect(line.cpuMicrosPerEvent).toBeGreaterThan(0);
      expect(line.series.length).toBeGreaterThan(1);
      expect(Object.values(line.byOutcome).reduce((a, b) => a + b, 0)).toBe(options.events);
    }
    expect(jobThreads!.byOutcome).toEqual(job.byOutcome);
    expect(Object.keys(limit).sort()).toEqual(['kafkajs', 'platformatic']);
    expect(results.throughput.operators.cpuMicrosPerEvent).toBeGreaterThan(0);
    for (const line of [...Object.values(limit), baseline]) {
      expect(line.events).toBe(options.events);
      expect(line.eventsPerSecond).toBeGreaterThan(0);
      expect(line.invalid).toBe(0);
      // Every line read the same events.
      expect([line.views, line.checksum]).toEqual([limit.kafkajs.views, limit.kafkajs.checksum]);
    }
    expect(baseline.counted).toBeGreaterThan(0);
    for (const ratio of [results.throughput.jobToLimit, results.throughput.jobToBaseline]) {
      expect(Number.isFinite(ratio)).toBe(true);
      expect(ratio).toBeGreaterThan(0);
    }
    // The job's outcomes account for every event; the labelled stream says roughly how many count.
    const total = Object.values(job.byOutcome).reduce((a, b) => a + b, 0);
    expect(total).toBe(options.events);
    expect(job.byOutcome.counted).toBeGreaterThan(0.8 * results.load.stats.expected.counted);
  });

  it('deletes what the run left in Redis: the baseline’s keys, its jobs’ checkpoints and positions', async () => {
    const runId = results.throughput.baseline.group.slice('vt-bench-naive-'.length);
    const redis = createRedisClient(resolveJobConfig({}, { ...process.env, VT_CLUSTER: '' }).redis);
    try {
      expect((await redis.keys(`vt:bench-naive:${runId}:*`)).length).toBe(0);
      expect(await redis.keys(`*${runId}*`)).toEqual([]);
      // what the read API line reads stays
      expect((await redis.keys('vt:views:bench-v*')).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it('leaves no checkpoint copy of its jobs in ClickHouse: its own, or the one VT_CLUSTER points commands at', async () => {
    const runId = results.throughput.baseline.group.slice('vt-bench-naive-'.length);
    const urls = [resolveJobConfig({}, { ...process.env, VT_CLUSTER: '' }).clickhouse, process.env.VT_CLUSTER_CLICKHOUSE].filter((u): u is string => !!u);
    for (const url of urls) {
      const clickhouse = createClickHouseClient(url);
      try {
        if (!(await hasCheckpointCopies(clickhouse))) continue;
        const left = await (await clickhouse.query({ query: `SELECT count() AS n FROM job_checkpoints WHERE ${RUN_COPIES}`, query_params: { run: runId }, format: 'JSONEachRow' })).json<{ n: string }>();
        expect({ url, copies: Number(left[0].n) }).toEqual({ url, copies: 0 });
      } finally {
        await clickhouse.close();
      }
    }
  });

  it('measures the job on the cluster on the same events as on the single node', () => {
    const { job, jobCluster } = results.throughput;
    expect(jobCluster).not.toBeNull();
    expect(jobCluster!.events).toBe(options.events);
    expect(jobCluster!.eventsPerSecond).toBeGreaterThan(0);
    expect(jobCluster!.byOutcome).toEqual(job.byOutcome);
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('on the local cluster');
  });

  it('loads the read API on the sharded counters, every answer from Redis', () => {
    const api = results.apiCluster!;
    expect(api.requests).toBeGreaterThan(0);
    expect(api.non2xx).toBe(0);
    expect(api.errors).toBe(0);
    expect(api.videos).toBeGreaterThan(0);
  });

  it('measures freshness with every marker seen', () => {
    const f = results.freshness.chosen;
    expect(f.markers).toBeGreaterThan(10);
    expect(f.visible).toBe(f.markers);
    expect(f.producedRate).toBeGreaterThan(0);
    expect(f.p50Ms).toBeGreaterThan(0);
    expect(f.p99Ms).toBeGreaterThanOrEqual(f.p50Ms);
    expect(f.p99Ms).toBeLessThan(30_000);
  });

  it('measures memory and dedup state', () => {
    expect(results.memory.job.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(results.memory.dedup.entries).toBeGreaterThan(0);
    expect(results.memory.dedup.heapBytesPerEntry).toBeGreaterThan(0);
    expect(results.memory.dedup.checkpointBytesPerEntry).toBeGreaterThan(0);
    expect(results.memory.restore.keys).toBe(20_000);
    expect(results.memory.restore.restoreMs).toBeGreaterThanOrEqual(0);
    expect(results.memory.restore.tableBytesPerKey).toBeGreaterThan(16);
  });

  it('measures the read API and the dashboard queries', () => {
    expect(results.api.requests).toBeGreaterThan(0);
    expect(results.api.requestsPerSecond).toBeGreaterThan(0);
    expect(results.api.non2xx).toBe(0);
    expect(results.api.latencyMs.p99).toBeGreaterThanOrEqual(results.api.latencyMs.p50);
    expect(results.dashboard.run.queries.length).toBeGreaterThanOrEqual(10);
    expect(results.dashboard.run.worst30DayP95Ms).toBeGreaterThan(0);
  });

  it('states every design target and writes the table and the chart', () => {
    expect(results.targets.map((t) => t.what)).toHaveLength(13);
    expect(results.targets.map((t) => t.what)).toContain('bot recall on a view farm / real views flagged');
    // A run without --profile cannot say what the address stage costs, and says so.
    const stage = results.targets.find((t) => t.what.startsWith('the bot address stage'));
    expect(stage).toMatchObject({ met: null, measured: 'not measured: run the benchmark with --profile' });
    for (const t of results.targets) expect(t.measured.length).toBeGreaterThan(5);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(md).toContain('## Targets');
    expect(md).toContain('exactly-once under crash injection');
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)?.length).toBeGreaterThanOrEqual(4);
  });
});
