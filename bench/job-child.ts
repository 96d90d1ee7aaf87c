/**
 * The job as the benchmark runs it: one process, the job on `workers` worker threads, exactly as
 * `viewtally run --workers N` does (same config resolution, logger and defaults), plus what the
 * benchmark reads from inside:
 *
 *   node [--cpu-prof …] --import tsx bench/job-child.ts '<json>'   json = { topic, group, untilIdle, workers, metricsPort?, brokers?, redis?, clickhouse? }
 *
 * Prints a sample line a second ({ rss, heapUsed, cpuMs }) and the job's summary last, with the
 * process's CPU time (all threads). SIGTERM stops it gracefully (flush, checkpoint, leave the group).
 */
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { createLogger } from '../pipeline/logger.ts';
import { runJobThreads } from '../pipeline/job-threads.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { topic: string; group: string; untilIdle: boolean; workers: number; metricsPort?: number; brokers?: string[]; redis?: string; clickhouse?: string };
const config = resolveJobConfig({ topic: args.topic, group: args.group, brokers: args.brokers?.join(','), redis: args.redis, clickhouse: args.clickhouse });
const log = createLogger('viewtally-bench-job', process.env.VT_LOG_LEVEL ?? 'warn');
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sample = () => {
  const m = process.memoryUsage();
  console.log(JSON.stringify({ sample: true, t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, cpuMs: cpuMs() }));
};
const sampler = setInterval(sample, 1_000);
sample();
const run = { untilIdle: args.untilIdle, log, signal: stop.signal, metricsPort: args.metricsPort };
const summary = await runJobThreads(config, { ...run, workers: args.workers });
clearInterval(sampler);
console.log(JSON.stringify({ summary, cpuMs: cpuMs(), maxRss: process.resourceUsage().maxRSS * 1024 }));
// Flushed, checkpointed and out of the group (as `viewtally run`): no client's timer may keep the process.
process.exit(0);
