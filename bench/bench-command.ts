import { Command, InvalidArgumentError } from 'commander';
import type { BenchOptions } from './bench-harness.ts';
import { integerArgument } from '../pipeline/integer-option.ts';

const positive = integerArgument({ min: 1 });

/** `viewtally bench`: the benchmark of DESIGN.md's targets against the local services (see bench/README.md). */
export function benchCommand(): Command {
  return new Command('bench')
    .description('measure throughput, freshness, memory, read API and dashboard latency on the local services; writes bench/results/latest.{json,md,svg}')
    .option('--tiny', 'a few seconds per part (20 000 events), for tests')
    .option('--events <n>', 'events pre-loaded for the throughput lines (default 5 000 000)', positive)
    .option('--seed <n>', 'seed of the load generator', positive)
    .option('--fresh-rate <n>', 'produce rate of the freshness measure, events/s (default 50 000)', positive)
    .option('--fresh-seconds <n>', 'how long each freshness attempt produces', positive)
    .option('--api-rate <n>', 'requests/s on GET /v1/videos/{id}/views (default 5 000)', positive)
    .option('--api-seconds <n>', 'how long the read API is loaded', positive)
    .option('--dashboard-rows <n>', 'minute rows of the dashboard history (default 2 000 000)', positive)
    .option('--dashboard-runs <n>', 'runs per dashboard query', positive)
    .option('--dashboard-only', 'only the dashboard measure, written to bench/results/dashboard-<rows>.json (101000000 rows: dashboard-100m.json)')
    .option('--job-only', 'only the limit lines and the job (one worker thread, or --workers), printed (not written): one change, one measure')
    .option('--freshness-only', 'only the freshness measure (--fresh-rate, --fresh-seconds, --workers), printed (not written): one change, one measure')
    .option('--clients <list>', 'Kafka clients for the limit line: kafkajs,platformatic', (v: string) => v.split(',').map((s) => s.trim()))
    .option('--profile', 'run the job under node --cpu-prof and report its hot spots')
    .option('--workers <n>', 'worker threads of the second job line (default: the number of cores); with --job-only, of its one job line (default 1)', positive)
    .option('--job-node-args <flags>', 'extra node flags for the job processes, an experiment (e.g. "--max-semi-space-size=64")')
    .option('--no-cluster', 'skip the job line on the local cluster (three Kafka brokers, Redis Cluster); --tiny skips it too')
    .option('--no-reuse', 'produce the pre-loaded topic afresh even if an earlier run left one')
    .option('--out <dir>', 'where the results go (default bench/results)')
    .action(async (flags: Record<string, unknown>) => {
      // The harness pulls in dev-dependencies (load generators, autocannon): only `bench` loads it.
      const { benchDefaults, runBench } = await import('./bench-harness.ts');
      const options: BenchOptions = benchDefaults(Boolean(flags.tiny));
      const set = <K extends keyof BenchOptions>(key: K, flag: string) => {
        if (flags[flag] !== undefined) options[key] = flags[flag] as BenchOptions[K];
      };
      set('events', 'events');
      set('seed', 'seed');
      set('freshRate', 'freshRate');
      set('freshSeconds', 'freshSeconds');
      set('apiRate', 'apiRate');
      set('apiSeconds', 'apiSeconds');
      set('dashboardRows', 'dashboardRows');
      set('dashboardRuns', 'dashboardRuns');
      set('out', 'out');
      set('workers', 'workers');
      options.profile = Boolean(flags.profile);
      if (typeof flags.jobNodeArgs === 'string') options.jobNodeArgs = flags.jobNodeArgs.split(' ').filter(Boolean);
      options.dashboardOnly = Boolean(flags.dashboardOnly);
      options.jobOnly = Boolean(flags.jobOnly);
      if (options.jobOnly && flags.workers === undefined) options.workers = 1;
      options.freshnessOnly = Boolean(flags.freshnessOnly);
      options.reuse = flags.reuse !== false;
      if (flags.cluster === false) options.cluster = false;
      if (flags.clients !== undefined) {
        const clients = flags.clients as string[];
        for (const c of clients) if (c !== 'kafkajs' && c !== 'platformatic') throw new InvalidArgumentError(`unknown Kafka client ${c}`);
        options.clients = clients as BenchOptions['clients'];
      }
      await runBench(options);
      process.exit(0); // every client is closed; a lingering socket timer must not hold the command
    });
}
