import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Logger } from 'pino';
import { STOP_GRACE_MS, type JobConfig } from './config.ts';
import type { JobSummary } from './job.ts';
import { serveMetrics } from './metrics.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { migrate } from '../clickhouse/migrations.ts';
import { readClusterLayout } from '../clickhouse/schema-layout.ts';

/** Messages from the main thread to a worker: join the group now, stop gracefully, or report metrics and readiness. */
export type ToWorker = { type: 'join' } | { type: 'stop' } | { type: 'probe'; id: number };
/** Messages from a worker: connected and ready to join, a probe's answer, or its summary once it has stopped. */
export type FromWorker =
  | { type: 'joining' }
  | { type: 'probe'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[]; ready: boolean }
  | { type: 'done'; summary: JobSummary };

const WORKER = new URL('../bin/viewtally-worker.mjs', import.meta.url);
// Each batch's records and decoded events live until the batch is done: a young generation of 3 × 64 MiB
// semi-spaces lets them die there instead of being promoted (measured: ~15 % less CPU per event).
const YOUNG_GENERATION_MB = 192;
// A worker that does not answer a probe in this time counts as not ready (it may be busy in a long batch).
const PROBE_MS = 2_000;

/** Summaries of several members as one. */
function sum(summaries: JobSummary[]): JobSummary {
  const byOutcome: Record<string, number> = {};
  for (const s of summaries) for (const [k, n] of Object.entries(s.byOutcome)) byOutcome[k] = (byOutcome[k] ?? 0) + n;
  const total = (f: (s: JobSummary) => number) => summaries.reduce((n, s) => n + f(s), 0);
  return {
    events: total((s) => s.events),
    byOutcome,
    elapsedMs: Math.max(0, ...summaries.map((s) => s.elapsedMs)),
    checkpoints: total((s) => s.checkpoints),
    windowsFired: total((s) => s.windowsFired),
    lateEvents: total((s) => s.lateEvents),
  };
}

/**
 * Runs the job as `workers` consumer-group members in one process (one or more), one per worker thread, each
 * owning its partitions' state and sink clients; nothing is shared but the metrics, which the main
 * thread gathers for one `/metrics`, `/healthz` and `/readyz`. Stopping (the signal) stops every
 * worker gracefully. A worker that fails takes the process down: the others are stopped and this
 * rejects, so the job is never half alive.
 */
export async function runJobThreads(config: JobConfig, options: { workers: number; untilIdle?: boolean; log: Logger; signal?: AbortSignal; metricsPort?: number }): Promise<JobSummary> {
  const { log } = options;
  // Once for the process, before the workers (each would otherwise run them, racing the others).
  const clickhouse = createClickHouseClient(config.clickhouse);
  try {
    await migrate(clickhouse, await readClusterLayout(clickhouse));
  } finally {
    await clickhouse.close();
  }
  const threads = Array.from(
    { length: options.workers },
    (_, index) => new Worker(WORKER, { workerData: { config, untilIdle: options.untilIdle ?? false, index }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } }),
  );
  const summaries: JobSummary[] = [];
  const probes = new Map<number, (answer: { metrics: MetricObjectWithValues<MetricValue<string>>[]; ready: boolean }) => void>();
  let probeId = 0;
  const alive = new Set(threads);
  let joining = 0;
  const stopAll = () => {
    for (const t of alive) t.postMessage({ type: 'stop' } satisfies ToWorker);
  };
  if (options.signal?.aborted) stopAll();
  else options.signal?.addEventListener('abort', stopAll, { once: true });

  const probe = (t: Worker) =>
    new Promise<{ metrics: MetricObjectWithValues<MetricValue<string>>[]; ready: boolean }>((resolve) => {
      const id = ++probeId;
      const timer = setTimeout(() => {
        probes.delete(id);
        resolve({ metrics: [], ready: false });
      }, PROBE_MS);
      probes.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      t.postMessage({ type: 'probe', id } satisfies ToWorker);
    });
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics, prefix: 'viewtally_' });
  const server = options.metricsPort
    ? await serveMetrics(
        {
          contentType: processMetrics.contentType,
          text: async () => {
            const answers = await Promise.all([...alive].map(probe));
            return Registry.merge([AggregatorRegistry.aggregate(answers.map((a) => a.metrics)), processMetrics]).metrics();
          },
          ready: async () => alive.size === threads.length && (await Promise.all(threads.map(probe))).every((a) => a.ready),
        },
        options.metricsPort,
      )
    : null;

  try {
    await new Promise<void>((resolve, reject) => {
      let failure: Error | null = null;
      threads.forEach((t, index) => {
        t.on('message', (m: FromWorker) => {
          if (m.type === 'done') summaries.push(m.summary);
          else if (m.type === 'joining') {
            // All members join the group together: one that joined alone would get every partition
            // and lose them again a moment later, replaying from the checkpoints.
            if (++joining === threads.length) for (const w of alive) w.postMessage({ type: 'join' } satisfies ToWorker);
          } else probes.get(m.id)?.({ metrics: m.metrics, ready: m.ready }), probes.delete(m.id);
        });
        t.on('error', (err) => {
          failure ??= err;
          log.error({ worker: index, err: err.message, stack: err.stack }, 'worker thread failed; stopping the others');
        });
        t.on('exit', (code) => {
          alive.delete(t);
          if (code !== 0 && failure === null) failure = new Error(`worker thread ${index} exited with code ${code}`);
          if (failure !== null && alive.size > 0) {
            stopAll();
            setTimeout(() => reject(failure!), STOP_GRACE_MS).unref(); // the others checkpoint and leave
          }
          if (alive.size === 0) (failure === null ? resolve() : reject(failure));
        });
      });
    });
  } finally {
    server?.close();
  }
  return sum(summaries);
}
