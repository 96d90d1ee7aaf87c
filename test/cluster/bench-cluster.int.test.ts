import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchDefaults, runBench, type BenchResults } from '../../bench/bench-harness.ts';

// The benchmark's cluster lines in tiny mode, so they cannot rot: the job on three brokers and a
// Redis Cluster reads every pre-loaded event, and the read API answers from the sharded counters.
describe('bench harness (tiny) on the local cluster', () => {
  const out = mkdtempSync(join(tmpdir(), 'vt-bench-cluster-'));
  const options = { ...benchDefaults(true), workers: 1, cluster: true, out };
  let results: BenchResults;

  beforeAll(async () => {
    await runBench(options, () => {});
    results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResults;
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

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
});
