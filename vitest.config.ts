import { defineConfig } from 'vitest/config';

// Five projects in two chains that run side by side (test/run-suite.sh), one per layout: vitest
// sets parallelism per run, not per project, so each chain is one or two runs, their projects one
// after another (sequence.groupOrder).
// - unit: pure code.
// - integration: the real local services, started once by the global setup; each file uses
//   topics, groups, videos and databases of its own, and much of a file's time is waiting
//   (sessions to expire, chunks to arrive), so two files may share the services.
// - exclusive: files that take the single-node services down, pause their writes (CLIENT PAUSE),
//   or rewrite every live counter (`reconcile --fix`): they get services of their own and run one
//   at a time, after the integration files.
// - cluster: the exactness tests again, and the cluster's own tests, against three Kafka brokers
//   and a Redis Cluster, with a ClickHouse of their own (`VT_CLUSTER=1` points every client and
//   child process there); the benchmark's tiny run is there too, as it measures both layouts.
// - cluster-exclusive: the cluster's files that kill nodes, add and remove job processes, or
//   rewrite every live counter, one at a time after the cluster files.
const EXCLUSIVE = ['test/disturbances.int.test.ts', 'test/redis-refusal.int.test.ts', 'test/stall-visibility.int.test.ts'];
// scale-out needs no exclusivity: six job processes are load enough to run beside nothing else of the cluster.
const CLUSTER_EXCLUSIVE = ['test/cluster/node-failures.int.test.ts', 'test/cluster/reconcile.int.test.ts', 'test/cluster/scale-out.int.test.ts'];
const CLUSTER = ['test/cluster/**/*.int.test.ts', 'test/end-to-end.int.test.ts', 'test/crash-recovery.int.test.ts', 'test/provisional-ledger.int.test.ts', 'bench/bench-harness.int.test.ts'];

const services = { testTimeout: 300_000, hookTimeout: 300_000 };
const cluster = { globalSetup: ['test/global-setup-cluster.ts'], env: { VT_CLUSTER: '1' }, testTimeout: 600_000, hookTimeout: 600_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          setupFiles: ['test/yield-to-runner.ts'],
          // the suite shares 2 cores with the services and the integration files: time-outs are for hangs, not speed
          testTimeout: 60_000,
          include: ['{schemas,operators,sinks,pipeline,clickhouse,api,bench,infra}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['**/*.int.test.ts', 'test/**/*.test.ts'],
          exclude: ['node_modules/**', '.viewtally/**', 'test/cluster/**', 'bench/bench-harness.int.test.ts', ...EXCLUSIVE],
          globalSetup: ['test/global-setup.ts'],
          ...services,
        },
      },
      {
        test: {
          name: 'cluster',
          sequence: { groupOrder: 2 },
          include: CLUSTER,
          exclude: CLUSTER_EXCLUSIVE,
          ...cluster,
        },
      },
      {
        test: {
          name: 'exclusive',
          sequence: { groupOrder: 3 },
          include: EXCLUSIVE,
          globalSetup: ['test/global-setup-exclusive.ts'],
          ...services,
        },
      },
      {
        test: {
          name: 'cluster-exclusive',
          sequence: { groupOrder: 4 },
          include: CLUSTER_EXCLUSIVE,
          ...cluster,
        },
      },
    ],
  },
});
