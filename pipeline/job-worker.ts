/**
 * One worker thread of `viewtally run --workers N` (see job-threads.ts): one consumer-group
 * member with its own partitions, state and sink clients. It answers the main thread's probes
 * with its metrics and readiness, stops gracefully when told, and hands back its summary.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import { runJob } from './job.ts';
import { createLogger } from './logger.ts';
import type { JobConfig } from './config.ts';
import type { FromWorker, ToWorker } from './job-threads.ts';

const { config, untilIdle, index } = workerData as { config: JobConfig; untilIdle: boolean; index: number };
const port = parentPort!;
const log = createLogger('viewtally-run').child({ worker: index });
const stop = new AbortController();
let job: { registry: Registry; ready: () => boolean } | null = null;

const send = (m: FromWorker) => port.postMessage(m);
let join: () => void = () => {};
const joined = new Promise<void>((resolve) => (join = resolve));
port.on('message', (m: ToWorker) => {
  if (m.type === 'join') join();
  else if (m.type === 'stop') {
    stop.abort();
    join();
  }
  else if (job === null) send({ type: 'probe', id: m.id, metrics: [], ready: false });
  else {
    const { registry, ready } = job;
    void registry.getMetricsAsJSON().then((metrics) => send({ type: 'probe', id: m.id, metrics, ready: ready() }));
  }
});

const beforeJoining = async () => {
  send({ type: 'joining' });
  await joined;
};
const summary = await runJob(config, { untilIdle, log, signal: stop.signal, migrated: true, beforeJoining, expose: (j) => (job = j) });
send({ type: 'done', summary });
// Flushed, checkpointed and out of the group: no client's timer may keep the thread.
process.exit(0);
