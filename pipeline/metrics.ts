import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The job's Prometheus metrics; gauges that describe current state are read at scrape time through `observe`. */
export function createJobMetrics(
  observe: {
  lag: () => Map<number, number>;
  watermarkDelayMs: () => number;
  checkpointAgeMs: () => Map<number, number>;
  dedupEntries: () => number;
  dedupEvictions: () => number;
  botKeys: () => number;
  pendingEvents: () => number;
  stateMemoryBytes: () => number;
  provisionalViews: () => number;
  verdictDelayMs: () => number;
  addressRecordsSetAside: () => Map<string, number>;
  stalled: () => Map<number, boolean>;
  },
  options: { processMetrics: boolean } = { processMetrics: true },
) {
  const registry = new Registry();
  // Process metrics (CPU, memory, event loop) once per process: worker threads leave them to the main thread.
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'viewtally_' });
  const r = { registers: [registry] };
  return {
    registry,
    events: new Counter({ name: 'viewtally_events_total', help: 'Events processed, by outcome', labelNames: ['outcome'] as const, ...r }),
    lateEvents: new Counter({ name: 'viewtally_late_events_total', help: 'Events for windows that had already fired (counted as corrections)', ...r }),
    windowsFired: new Counter({ name: 'viewtally_windows_fired_total', help: 'Minute windows fired (per partition)', ...r }),
    sinkRetries: new Counter({ name: 'viewtally_sink_retries_total', help: 'Failed sink calls retried with backoff', labelNames: ['what'] as const, ...r }),
    deadLetters: new Counter({ name: 'viewtally_dead_letters_total', help: 'Undecodable messages sent to the dead-letter topic', ...r }),
    poisonRecords: new Counter({ name: 'viewtally_poison_records_total', help: 'Records a sink refused for good and the job skipped (each logged at error with its offset)', labelNames: ['sink'] as const, ...r }),
    flushSeconds: new Histogram({ name: 'viewtally_live_flush_seconds', help: 'Live counter flush latency', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], ...r }),
    checkpointSeconds: new Histogram({ name: 'viewtally_checkpoint_seconds', help: 'Checkpoint latency (Redis, ClickHouse)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ...r }),
    checkpointEncodeSeconds: new Histogram({
      name: 'viewtally_checkpoint_encode_seconds',
      help: 'Event-loop time of a checkpoint: firing windows and writing the state link',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      ...r,
    }),
    stateBytes: new Histogram({
      name: 'viewtally_state_link_bytes',
      help: 'Size of the stored state links: snapshots and changes',
      labelNames: ['kind'] as const,
      buckets: [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6, 256e6],
      ...r,
    }),
    stateMemory: new Gauge({
      name: 'viewtally_state_memory_bytes',
      help: 'Memory of the keyed state tables (dedup stores and bot tracks), as allocated',
      ...r,
      collect() {
        this.set(observe.stateMemoryBytes());
      },
    }),
    lag: new Gauge({
      name: 'viewtally_consumer_lag',
      help: 'Messages behind the partition end',
      labelNames: ['partition'] as const,
      ...r,
      collect() {
        this.reset();
        for (const [p, lag] of observe.lag()) this.set({ partition: String(p) }, lag);
      },
    }),
    watermarkDelay: new Gauge({
      name: 'viewtally_watermark_delay_seconds',
      help: 'Wall clock minus the job watermark (the largest of the worker threads)',
      aggregator: 'max',
      ...r,
      collect() {
        this.set(observe.watermarkDelayMs() / 1000);
      },
    }),
    checkpointAge: new Gauge({
      name: 'viewtally_checkpoint_age_seconds',
      help: 'Time since the last checkpoint, per partition',
      labelNames: ['partition'] as const,
      ...r,
      collect() {
        this.reset();
        for (const [p, age] of observe.checkpointAgeMs()) this.set({ partition: String(p) }, age / 1000);
      },
    }),
    dedupEntries: new Gauge({
      name: 'viewtally_dedup_entries',
      help: 'Keys held by the dedup stores (event ids and viewer-video pairs)',
      ...r,
      collect() {
        this.set(observe.dedupEntries());
      },
    }),
    botKeys: new Gauge({
      name: 'viewtally_bot_keys',
      help: 'Viewer keys the bot scorer tracks (kept for its longest window, 60 min by default)',
      ...r,
      collect() {
        this.set(observe.botKeys());
      },
    }),
    pendingEvents: new Gauge({
      name: 'viewtally_pending_events',
      help: 'Events processed and not yet written to ClickHouse; consumption waits above the configured bound (per worker)',
      ...r,
      collect() {
        this.set(observe.pendingEvents());
      },
    }),
    provisionalViews: new Gauge({
      name: 'viewtally_provisional_views',
      help: 'Views in the live counters whose address verdict is still pending (taken back if a flag of their address covers their verdict step)',
      ...r,
      collect() {
        this.set(observe.provisionalViews());
      },
    }),
    botCorrections: new Counter({ name: 'viewtally_bot_corrections_total', help: 'Provisionally counted views taken back from the live counters by address verdicts', ...r }),
    verdictDelay: new Gauge({
      name: 'viewtally_verdict_watermark_delay_seconds',
      help: 'Wall clock minus the verdict watermark (the largest over the partitions): how long a provisional view can stand',
      aggregator: 'max',
      ...r,
      collect() {
        this.set(observe.verdictDelayMs() / 1000);
      },
    }),
    addressRecordsSetAside: new Gauge({
      name: 'viewtally_address_records_set_aside',
      help: 'Records the address stage counted for nothing since its partitions were claimed: duplicate (replays), late (older than their source watermark), too_late (for a verdict step already judged)',
      labelNames: ['kind'] as const,
      ...r,
      collect() {
        this.reset();
        for (const [kind, n] of observe.addressRecordsSetAside()) this.set({ kind }, n);
      },
    }),
    partitionStalled: new Gauge({
      name: 'viewtally_partition_stalled',
      help: '1 while a partition has not advanced for several checkpoint intervals although events wait (then /readyz fails)',
      labelNames: ['partition'] as const,
      // two workers may both list a partition during a rebalance: it is stalled if either sees it so
      aggregator: 'max',
      ...r,
      collect() {
        this.reset();
        for (const [p, stalled] of observe.stalled()) this.set({ partition: String(p) }, stalled ? 1 : 0);
      },
    }),
    dedupEvictions: new Gauge({
      name: 'viewtally_dedup_evictions',
      help: 'Dedup keys evicted by the size cap since the partitions were claimed',
      ...r,
      collect() {
        this.set(observe.dedupEvictions());
      },
    }),
  };
}

export type JobMetrics = ReturnType<typeof createJobMetrics>;

/** The sum of every series in a Prometheus text exposition whose line starts with `prefix` (a name, or a name and labels). */
export function metricSum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** What the metrics endpoint serves: the exposition text, and whether the job can work. */
export interface MetricsSource {
  contentType: string;
  text(): Promise<string>;
  ready(): Promise<boolean>;
}

/** Serves `/metrics`, `/healthz` (the process runs) and `/readyz` (`ready()` says it can work). */
export function serveMetrics(source: MetricsSource, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = async () => {
      if (req.url === '/metrics') {
        const text = await source.text();
        res.writeHead(200, { 'content-type': source.contentType }).end(text);
      } else if (req.url === '/healthz') {
        res.writeHead(200).end('ok\n');
      } else if (req.url === '/readyz') {
        const ok = await source.ready();
        res.writeHead(ok ? 200 : 503).end(ok ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404).end();
      }
    };
    answer().catch((err: Error) => res.writeHead(500).end(err.message));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
