import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { generateLabelledStream } from '../bench/labelled-stream.ts';
import { infraDown, infraUpDetailed } from '../infra/services.ts';
import type { JobConfig } from './config.ts';
import { runJob } from './job.ts';
import { connectProducer, produceEvents } from './produce.ts';
import { createLogger } from './logger.ts';
import { LOCAL_API, startApi } from './start-api.ts';

/**
 * `npm start`: local infra up, a synthetic stream produced in real time (event times follow the
 * clock), the job running, and the live counts of the busiest videos redrawn every two seconds.
 * Ctrl-C stops the producer and the job cleanly, and the infra if this run started it.
 */
export async function runDemo(resolveConfig: () => JobConfig, options: { eventsPerSecond: number; port: number; signal: AbortSignal }): Promise<void> {
  const infra = await infraUpDetailed();
  // Resolved once the services answer, so the addresses are the ones just started.
  const config = resolveConfig();
  const log = createLogger('viewtally-demo', 'warn');
  const producer = await connectProducer({ brokers: config.brokers, topic: config.topic, partitions: config.partitions, clientId: 'viewtally-demo' });
  const redis = new Redis(config.redis);
  const stopped = new AbortController();
  options.signal.addEventListener('abort', () => stopped.abort(), { once: true });
  const job = runJob(config, { log, signal: stopped.signal }).catch((err: Error) => {
    console.error(`viewtally: the job stopped: ${err.message}`);
    stopped.abort();
    process.exitCode = 1;
  });

  const minutes = 60;
  const start = Date.now();
  const stream = generateLabelledStream({ seed: start % 1_000_000, events: options.eventsPerSecond * 60 * minutes, videos: 5_000, minutes, startMs: start });
  const seen = new Set<string>();
  let produced = 0;
  const feed = (async () => {
    let batch: { line: number; event: ReturnType<typeof stream.toArray>[number]['event'] }[] = [];
    for (const { event } of stream.events()) {
      if (stopped.signal.aborted) break;
      while (event.ts > Date.now() && !stopped.signal.aborted) await sleep(200);
      seen.add(event.video_id);
      batch.push({ line: ++produced, event });
      if (batch.length >= 200 || event.ts < Date.now() - 1000) {
        await produceEvents(producer, config.topic, batch);
        batch = [];
      }
    }
  })();

  const api = await startApi(config, { ...LOCAL_API, port: options.port, log });
  const url = `${api.address}/`;
  while (!stopped.signal.aborted) {
    await sleep(2_000, undefined, { signal: stopped.signal }).catch(() => {});
    const ids = [...seen];
    if (ids.length === 0) continue;
    const counts = await redis.mget(ids.map((id) => `vt:views:${id}`));
    const top = ids.map((id, i) => [id, Number(counts[i] ?? 0)] as const).sort((a, b) => b[1] - a[1]).slice(0, 10);
    const lines = [
      `viewtally demo — ${produced} events produced in ${Math.round((Date.now() - start) / 1000)} s; live counts from Redis (Ctrl-C stops)`,
      `dashboard: ${url}`,
      '',
      'video                         views',
      ...top.map(([id, n]) => `${id.padEnd(28)}  ${String(n).padStart(6)}`),
    ];
    process.stdout.write('\x1b[2J\x1b[H' + lines.join('\n') + '\n');
  }
  await feed;
  await producer.disconnect();
  await job;
  await api.close();
  redis.disconnect();
  if (infra.started.length > 0) await infraDown();
}
