import { defineConfig } from 'vitest/config';

// Unit tests run on their own; integration tests (`*.int.test.ts`, `test/`) get the real local
// services started once by the global setup and run one file at a time, since they share them.
// The cluster project runs the exactness tests again, and the cluster's own tests, against three
// Kafka brokers and a Redis Cluster (`VT_CLUSTER=1` points every client and child process there);
// the benchmark's tiny run is there too, as it measures both layouts.
export default defineConfig({
  test: {
    // integration files share the local services; unit files are fast enough in sequence too
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          // the suite shares 2 cores with the services and the integration files: time-outs are for hangs, not speed
          testTimeout: 60_000,
          include: ['{schemas,operators,sinks,pipeline,clickhouse,api,bench,infra}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts', 'test/**/*.test.ts'],
          exclude: ['node_modules/**', '.viewtally/**', 'test/cluster/**', 'bench/bench-harness.int.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.int.test.ts', 'test/end-to-end.int.test.ts', 'test/crash-recovery.int.test.ts', 'test/provisional-ledger.int.test.ts', 'bench/bench-harness.int.test.ts'],
          globalSetup: ['test/global-setup-cluster.ts'],
          env: { VT_CLUSTER: '1' },
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
