import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisClient } from '../sinks/redis-client.ts';
import { liveViews } from '../sinks/live-counters.ts';
import { generateLabelledStream } from '../bench/labelled-stream.ts';
import { infraDown, infraUpDetailed } from '../infra/services.ts';
import type { JobConfig } from './config.ts';
import { runJob } from './job.ts';
import { connectProducer, produceEvents } from './produce.ts';
import { createLogger } from './logger.ts';
import { LOCAL_API, startApi } from './start-api.ts';
import { outcomeMixLine, outcomesSince } from './outcome-mix.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';

/**
 * `npm start`: local infra up, a synthetic stream produced in real time (event times follow the
 * clock), the job running, and the live counts of the busiest videos redrawn every two seconds,
 * under what became of the events (the outcome mix) and a dashboard link to the busiest video.
 * Ctrl-C stops the producer and the job cleanly, and the infra if this run started it.
 */
export async function runDemo(resolveConfig: () => JobConfig, options: { eventsPerSecond: number; port: number; signal: AbortSignal }): Promise<void> {
  const infra = await infraUpDetailed();
  // Resolved once the services answer, so the addresses are the ones just started.
  const config = resolveConfig();
  const log = createLogger('viewtally-demo', 'warn');
  const producer = await connectProducer({ brokers: config.brokers, topic: config.topic, partitions: config.partitions, clientId: 'viewtally-demo' });
  // A Redis outage shows in the counts and the job's log (the client prints no reconnects).
  const redis = createRedisClient(config.redis);
  const clickhouse = createClickHouseClient(config.clickhouse);
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
  /** Channel of every video produced so far. */
  const seen = new Map<string, string>();
  let produced = 0;
  const feed = (async () => {
    let batch: { line: number; event: ReturnType<typeof stream.toArray>[number]['event'] }[] = [];
    for (const { event } of stream.events()) {
      if (stopped.signal.aborted) break;
      while (event.ts > Date.now() && !stopped.signal.aborted) await sleep(200);
      seen.set(event.video_id, event.channel_id);
      batch.push({ line: ++produced, event });
      if (batch.length >= 200 || event.ts < Date.now() - 1000) {
        await produceEvents(producer, config.topic, batch);
        batch = [];
      }
    }
  })();

  const api = await startApi(config, { ...LOCAL_API, port: options.port, log });
  while (!stopped.signal.aborted) {
    await sleep(2_000, undefined, { signal: stopped.signal }).catch(() => {});
    const ids = [...seen.keys()];
    if (ids.length === 0) continue;
    const [counts, outcomes] = await Promise.all([liveViews(redis, config, ids), outcomesSince(clickhouse, start).catch(() => null)]);
    const top = ids.map((id, i) => [id, counts[i]] as const).sort((a, b) => b[1] - a[1]).slice(0, 10);
    const link = top[0][1] > 0 ? `?${new URLSearchParams({ channel: seen.get(top[0][0])!, video: top[0][0] })}` : '';
    const lines = [
      `viewtally demo — ${produced} events produced in ${Math.round((Date.now() - start) / 1000)} s; live counts from Redis (Ctrl-C stops)`,
      outcomes === null ? 'outcomes: ClickHouse does not answer' : outcomeMixLine(outcomes),
      `dashboard: ${api.address}/${link}`,
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
  await clickhouse.close();
  if (infra.started.length > 0) await infraDown();
}
