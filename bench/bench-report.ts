import { defaultJobConfig } from '../pipeline/config.ts';
import type { BenchResults } from './bench-harness.ts';
import type { ApiResult } from './bench-api.ts';
import { ADDRESS_STAGE, type JobRunResult } from './bench-throughput.ts';

/** One design target (DESIGN.md "Targets") against this run's figure. */
export interface TargetRow {
  what: string;
  target: string;
  measured: string;
  /** null: not something this run can decide (stated, or measured elsewhere). */
  met: boolean | null;
}

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
/** A job line once warm (from a fifth of its events on): its events/s and CPU µs per event. */
const warm = (j: JobRunResult) => (j.warm ? `${n(j.warm.eventsPerSecond)}, ${j.warm.cpuMicrosPerEvent}` : '—');
const ms = (x: number | null) => (x === null || !Number.isFinite(x) ? 'never (not visible within 10 s)' : `${Math.round(x)} ms`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** The design's targets, each with this run's figure and whether it is met. */
export function evaluateTargets(r: BenchResults): TargetRow[] {
  const one = r.throughput.job;
  const job = r.throughput.jobThreads ?? one;
  const f = r.freshness.chosen;
  const ref = r.dashboard.reference100M;
  const dedup = r.memory.dedup;
  const restore = r.memory.restore;
  const kafkajs = r.throughput.limit.kafkajs ?? Object.values(r.throughput.limit)[0];
  const freshAt50k = f.targetRate >= 50_000 && f.sustained;
  const sinks = one.sinks;
  const acc = r.accuracy;
  const counted = one.byOutcome.counted ?? 0;
  const countedExpected = r.load.stats.expected.counted ?? 0;
  return [
    {
      what: 'job CPU per event, all threads (user + sys ÷ events)',
      target: '≤ 10 µs (≤ 2× the bare consume + decode)',
      measured: `${job.cpuMicrosPerEvent} µs with ${job.workers} worker thread${job.workers > 1 ? 's' : ''}, ${one.cpuMicrosPerEvent} µs with one; bare kafkajs consume + decode ${kafkajs.cpuMicrosPerEvent} µs (whole runs; once warm ${job.warm?.cpuMicrosPerEvent ?? '—'} and ${one.warm?.cpuMicrosPerEvent ?? '—'} µs)`,
      met: job.cpuMicrosPerEvent <= 10,
    },
    {
      what: 'job ÷ kafkajs consume + decode limit, `--workers 1`, same run',
      target: '≥ 0.5',
      measured: `${r.throughput.jobToLimit.toFixed(2)} (${n(one.eventsPerSecond)} vs ${n(kafkajs.eventsPerSecond)} events/s); ÷ naive baseline ${r.throughput.jobToBaseline.toFixed(2)}`,
      met: r.throughput.jobToLimit >= 0.5,
    },
    {
      what: 'sustained throughput, one process, default worker threads, Kafka → ClickHouse + Redis',
      target: '≥ 100 000 events/s (moonshot 200 000)',
      measured: `${n(job.eventsPerSecond)} events/s over ${n(job.events)} events, ${job.workers} worker thread${job.workers > 1 ? 's' : ''} (once warm ${job.warm ? `${n(job.warm.eventsPerSecond)} events/s` : 'not measured'})`,
      met: job.eventsPerSecond >= 100_000,
    },
    {
      what: 'event → visible in Redis count, p99, at 50 000 events/s sustained',
      target: '< 1 s',
      measured: `p99 ${ms(f.p99Ms)} (p50 ${ms(f.p50Ms)}) at ${n(f.producedRate)} events/s produced${f.sustained ? '' : ', not sustained'}${f.targetRate < 50_000 ? ` — 50 000/s was not sustainable here (${r.freshness.attempts.map((a) => `${n(a.targetRate)}/s: p99 ${ms(a.p99Ms)}`).join('; ')})` : ''}`,
      met: freshAt50k ? f.p99Ms < 1_000 : false,
    },
    {
      what: 'memory per million live dedup keys',
      target: '≤ 48 MB',
      measured: `${dedup.heapBytesPerEntry} MB of tables per million after the run (${n(dedup.entries)} entries); ${restore.tableBytesPerKey} MB per million at ${n(restore.keys)} keys; budget ${n(dedup.maxEntriesPerStore)} entries per store per partition`,
      met: dedup.heapBytesPerEntry <= 48 && restore.tableBytesPerKey <= 48,
    },
    {
      what: 'checkpoint event-loop time per partition',
      target: '≤ 20 ms',
      measured: `mean ${sinks.checkpointEncodeMeanMs} ms over ${n(sinks.checkpoints)} checkpoints, ${n(sinks.checkpointEncodeOver20ms)} over 20 ms; a snapshot of ${n(restore.keys)} keys took ${restore.writeMs} ms`,
      met: sinks.checkpointEncodeMeanMs <= 20,
    },
    {
      what: 'restore of a partition holding 2 M keys',
      target: '< 1 s',
      measured: `${restore.restoreMs} ms for ${n(restore.keys)} keys (${mib(restore.snapshotBytes)} snapshot); largest partition of the run ${dedup.restoreMs} ms`,
      met: restore.keys >= 2_000_000 ? restore.restoreMs < 1_000 : null,
    },
    {
      what: '`GET /v1/videos/:id/views`, p99 under load',
      target: '< 10 ms',
      measured: `p99 ${r.api.latencyMs.p99} ms at ${n(r.api.requestsPerSecond)} req/s for ${r.api.seconds} s${r.apiCluster === null ? '' : `; on the Redis Cluster layout p99 ${r.apiCluster.latencyMs.p99} ms at ${n(r.apiCluster.requestsPerSecond)} req/s`}`,
      met: [r.api, ...(r.apiCluster === null ? [] : [r.apiCluster])].every((a) => a.latencyMs.p99 < 10 && a.requestsPerSecond >= a.targetRate * 0.95 && a.non2xx === 0),
    },
    {
      what: 'creator analytics query, 30 days, p95 on ≥ 100 M minute rows',
      target: '< 500 ms',
      measured: ref
        ? `worst 30-day p95 ${ref.worst30DayP95Ms} ms on ${n(ref.minuteRows)} rows (measured ${ref.measuredAt.slice(0, 16).replace('T', ' ')}${ref.machine ? `, load ${ref.machine.loadAverageAtStart[0]}` : ''}); ${r.dashboard.run.worst30DayP95Ms} ms on ${n(r.dashboard.run.minuteRows)} rows in this run`
        : `${r.dashboard.run.worst30DayP95Ms} ms on ${n(r.dashboard.run.minuteRows)} rows only (no 100 M measure recorded)`,
      met: ref ? ref.worst30DayP95Ms < 500 && ref.minuteRows >= 100_000_000 : null,
    },
    {
      what: 'bot recall on a view farm / real views flagged',
      target: '≥ 99 % / ≤ 0.1 %',
      measured: `${pct(acc.farmRecall * acc.farmViews, acc.farmViews, 2)} of ${n(acc.farmViews)} farm views / ${pct(acc.peopleFlagged * acc.peopleViews, acc.peopleViews, 3)} of ${n(acc.peopleViews)} people's views (carrier NAT ${pct(acc.natFlagged, 1, 3)}); whole stream: bot precision ${acc.precision.toFixed(4)}, recall ${acc.recall.toFixed(4)} over ${n(acc.bots)} bot events (both stages' operators in memory, ${acc.partitions} partitions)`,
      met: acc.farmRecall >= 0.99 && acc.peopleFlagged <= 0.001,
    },
    {
      what: 'counted views vs labelled truth, whole benchmark load',
      target: 'within 0.1 %',
      measured: `job (--workers 1) ${n(counted)} vs ${n(countedExpected)} labelled (${signedPct(counted, countedExpected)}); both stages in memory ${n(acc.counted)} (${signedPct(acc.counted, acc.countedExpected)})`,
      met: Math.abs(counted - countedExpected) <= 0.001 * countedExpected,
    },
    addressStageRow(one),
    {
      what: 'exactly-once under crash injection',
      target: 'zero difference from truth',
      measured: 'not measured by the benchmark: test/crash-recovery.int.test.ts',
      met: null,
    },
  ];
}

/** The bot address stage's cost, from the profile of the one-worker job (null when it ran unprofiled). */
function addressStageRow(one: BenchResults['throughput']['job']): TargetRow {
  const what = 'the bot address stage’s cost: its share of the job (`--workers 1`, profiled)';
  const target = '≤ 25 % of the job’s throughput';
  const stage = one.profile?.groups.find((g) => g.name === ADDRESS_STAGE);
  if (!stage) return { what, target, measured: 'not measured: run the benchmark with --profile', met: null };
  return {
    what,
    target,
    measured: `${(stage.share * 100).toFixed(1)} % of the job thread's busy time (${((stage.ms * 1000) / one.events).toFixed(2)} µs per event under the profiler): without it the job would do ${(1 / (1 - stage.share)).toFixed(2)}× the events per CPU second`,
    met: stage.share <= 0.25,
  };
}

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The run as Markdown: the targets first, then every measure with its conditions. */
export function renderMarkdown(r: BenchResults): string {
  const t = r.throughput;
  const m = r.machine;
  const v = r.versions;
  const s = r.load.stats;
  const lines = [
    `# viewtally benchmark — ${r.mode} run, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `${m.cpus} cores (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB; load average ${m.loadAverageAtStart.join(' / ')} at start, ${m.loadAverageAtEnd.join(' / ')} at end` +
      (m.busiestOtherProcesses.length > 0 ? `; other work running at start: ${m.busiestOtherProcesses.map((p) => `${p.command.split(' ').slice(0, 3).join(' ')} (${p.cpuPercent} %)`).join(', ')}` : ''),
    `Node ${v.node}, Kafka ${v.kafka}, ClickHouse ${v.clickhouse}, Redis ${v.redis}; ${Object.entries(v.packages).map(([k, x]) => `${k} ${x}`).join(', ')}.`,
    `Commit ${v.git.commit}${v.git.changedFiles.length > 0 ? ` with uncommitted changes in ${v.git.changedFiles.join(', ')}` : ''}. Seed ${r.seed}; ${r.durationSeconds} s in all (${Object.entries(r.phaseSeconds).map(([k, x]) => `${k} ${x} s`).join(', ')}).`,
    '',
    '## Targets',
    '',
    table(['what', 'target', 'measured', 'met'], r.targets.map((x) => [x.what, x.target, x.measured, x.met === null ? '—' : x.met ? 'yes' : '**no**'])),
    '',
    '## Throughput (one process each, same topic, read from the start)',
    '',
    `Topic \`${r.load.topic}\`: ${n(s.events)} events (${(s.bytes / 2 ** 20).toFixed(0)} MiB Avro), ${r.load.partitions} partitions${r.load.reused ? `, pre-loaded by an earlier run (${r.load.producedAt})` : `, pre-loaded in ${r.load.produceSeconds} s (${n(r.load.produceEventsPerSecond)} events/s)`}.`,
    '',
    table(
      ['line', 'events/s', 'seconds', 'CPU µs/event', 'once warm: events/s, CPU µs/event', 'load avg after'],
      [
        ['job, --workers 1: Kafka → decode → classify → windows → Redis + ClickHouse', n(t.job.eventsPerSecond), t.job.seconds, t.job.cpuMicrosPerEvent, warm(t.job), t.job.loadAverage[0]],
        ...(t.jobThreads ? [[`job, --workers ${t.jobThreads.workers} (worker threads)`, n(t.jobThreads.eventsPerSecond), t.jobThreads.seconds, t.jobThreads.cpuMicrosPerEvent, warm(t.jobThreads), t.jobThreads.loadAverage[0]]] : []),
        ...(t.jobCluster === null
          ? []
          : [['job, --workers 1, on the local cluster: 3 Kafka brokers (replication 3, acks=all), 3-master Redis Cluster', n(t.jobCluster.eventsPerSecond), t.jobCluster.seconds, t.jobCluster.cpuMicrosPerEvent, warm(t.jobCluster), t.jobCluster.loadAverage[0]]]),
        ...Object.values(t.limit).map((l) => [`limit: ${l.mode} eachBatch/stream + decodeViewEvent`, n(l.eventsPerSecond), l.seconds.toFixed(2), l.cpuMicrosPerEvent, '', l.loadAverage[0]]),
        [`baseline: naive SET NX + INCR per event (kafkajs, pipelined per batch)`, n(t.baseline.eventsPerSecond), t.baseline.seconds.toFixed(2), t.baseline.cpuMicrosPerEvent, '', t.baseline.loadAverage[0]],
        [`operators alone, first ${n(t.operators.events)} events (no fetch, no sinks, no checkpoints)`, n(t.operators.eventsPerSecond), '', t.operators.cpuMicrosPerEvent, '', ''],
      ],
    ),
    '',
    `Operators alone, µs per event by stage: ${Object.entries(t.operators.stagesMicrosPerEvent).map(([k, x]) => `${k} ${x}`).join(', ')}.`,
    '',
    `Job sinks, --workers 1 (its /metrics): ${n(t.job.sinks.checkpoints)} partition checkpoints took ${t.job.sinks.checkpointSeconds} s in all (${t.job.sinks.checkpointsOver1s} over 1 s, ${t.job.sinks.checkpointsOver5s} over 5 s), ${t.job.sinks.checkpointEncodeMeanMs} ms of event loop each on average (${n(t.job.sinks.checkpointEncodeOver20ms)} over 20 ms); state links stored: ${n(t.job.sinks.snapshots)} snapshots (${mib(t.job.sinks.snapshotBytes)}) and ${n(t.job.sinks.changes)} changes (${mib(t.job.sinks.changeBytes)}); ${n(t.job.sinks.liveFlushes)} live flushes ${t.job.sinks.liveFlushSeconds} s; pending events peaked at ${n(t.job.sinks.maxPendingEvents)} (consumption waits above ${n(defaultJobConfig().maxPendingEvents)}). Positions that stand still in the chart are those waits.`,
    '',
    `job (--workers 1) ÷ limit ${t.jobToLimit.toFixed(2)}, ÷ baseline ${t.jobToBaseline.toFixed(2)}. The job's rate is over the time its live positions in Redis moved; its whole process took ${t.job.wallSeconds} s (connect, migrate, join, final checkpoint). Outcomes: ${Object.entries(t.job.byOutcome).map(([k, x]) => `${k} ${n(x)}`).join(', ')} (labels expected ${Object.entries(s.expected).map(([k, x]) => `${k} ${n(x)}`).join(', ')}). Every limit line read the same ${n(Object.values(t.limit)[0].views)} views with checksum ${Object.values(t.limit).map((l) => l.checksum).join(' / ')}.`,
    '',
    '## Bot verdicts (both stages\' operators in memory over the same stream, by population)',
    '',
    `${n(r.accuracy.events)} events in ${r.accuracy.seconds} s, ${r.accuracy.partitions} counting and ${r.accuracy.partitions} address partitions; a view is flagged when its final outcome is \`bot\`; views are those labelled bot, counted or duplicate.`,
    '',
    table(['population', 'views', 'flagged', 'share'], Object.entries(r.accuracy.byPopulation).map(([p, c]) => [p, n(c.views), n(c.flagged), pct(c.flagged, c.views, 3)])),
    '',
    '## Freshness (event `ts` = produce time → visible in `vt:views:{marker}`)',
    '',
    table(
      ['target rate', 'produced/s', 'processed/s', 'markers seen', 'p50', 'p90', 'p99', 'max', 'lag at end', 'sustained'],
      r.freshness.attempts.map((a) => [n(a.targetRate), n(a.producedRate), n(a.processedRate), `${a.visible}/${a.markers}`, ms(a.p50Ms), ms(a.p90Ms), ms(a.p99Ms), ms(a.maxMs), n(a.lagAtEnd), a.sustained ? 'yes' : 'no']),
    ),
    '',
    '## Memory',
    '',
    `Job process: peak RSS ${mib(r.memory.job.peakRssBytes)}; RSS ${mib(r.memory.job.rssAt10PercentBytes)} at 10 % of the events, ${mib(r.memory.job.rssAtEndBytes)} at the end (+${mib(r.memory.job.growthBytes)}, ${mib(r.memory.job.growthBytesPerMillionEvents)} per million events); heap used at the end ${mib(r.memory.job.heapUsedAtEndBytes)}.`,
    `Dedup state at the end: ${n(r.memory.dedup.eventIdEntries)} event_id entries + ${n(r.memory.dedup.sessionEntries)} session entries; ${r.memory.dedup.heapBytesPerEntry} B of typed-array tables per entry (restored from the checkpoints; restoring the largest partition took ${r.memory.dedup.restoreMs} ms), ${r.memory.dedup.checkpointBytesPerEntry} B per entry in the stored chains (${mib(r.memory.dedup.checkpointBytes)}, bot state and open windows included); bot scorer ${n(r.memory.dedup.botKeys)} keys. Bounded by the 24 h / 30 min horizons and ${n(r.memory.dedup.maxEntriesPerStore)} entries per store per partition.`,
    `A partition of ${n(r.memory.restore.keys)} dedup keys: snapshot ${mib(r.memory.restore.snapshotBytes)} written in ${r.memory.restore.writeMs} ms, restored in ${r.memory.restore.restoreMs} ms, ${r.memory.restore.tableBytesPerKey} B of tables per key.`,
    '',
    '## Read API',
    '',
    `\`GET /v1/videos/{id}/views\` on a \`viewtally serve\` process of its own (loopback), autocannon from a child process at ${n(r.api.targetRate)} req/s over ${r.api.videos} videos with live counters, ${r.api.connections} connections: ${n(r.api.requestsPerSecond)} req/s, p50 ${r.api.latencyMs.p50} ms, p90 ${r.api.latencyMs.p90} ms, p99 ${r.api.latencyMs.p99} ms, p99.9 ${r.api.latencyMs.p999} ms, max ${r.api.latencyMs.max} ms; ${r.api.non2xx} non-2xx, ${r.api.errors} errors${forksNote(r.api)}.`,
    ...(r.apiCluster === null
      ? []
      : [
          '',
          `The same on the cluster layout (each video's count summed over ${r.load.partitions} partition counters on a 3-master Redis Cluster, answers shared per video for 250 ms): ${n(r.apiCluster.requestsPerSecond)} req/s, p50 ${r.apiCluster.latencyMs.p50} ms, p90 ${r.apiCluster.latencyMs.p90} ms, p99 ${r.apiCluster.latencyMs.p99} ms, p99.9 ${r.apiCluster.latencyMs.p999} ms, max ${r.apiCluster.latencyMs.max} ms; ${r.apiCluster.non2xx} non-2xx, ${r.apiCluster.errors} errors${forksNote(r.apiCluster)}.`,
        ]),
    '',
    '## Dashboard queries (clickhouse/dashboard-latency.bench.ts)',
    '',
    table(
      ['query', `p95 ms, ${n(r.dashboard.run.minuteRows)} rows`, ...(r.dashboard.reference100M ? [`p95 ms, ${n(r.dashboard.reference100M.minuteRows)} rows`] : [])],
      r.dashboard.run.queries.map((q) => [q.query, q.p95Ms, ...(r.dashboard.reference100M ? [r.dashboard.reference100M.queries.find((x) => x.query === q.query)?.p95Ms ?? '—'] : [])]),
    ),
    '',
    '## Load',
    '',
    `Labelled stream, seed ${r.seed}: Zipf(1) over ${n(r.load.shape.videos)} videos, ${r.load.shape.minutes} minutes of event time; ${pct(botShare(s.populations), s.events)} of events from bots, ${pct(s.expected.duplicate ?? 0, s.views)} of views duplicates (${pct(s.retries, s.views)} beacon retries, the rest refreshes), ${pct(s.lateEvents, s.events)} late (offline phones, 2 min – 2 h), viral spike: video rank 100 took ${pct(s.spikeViews, s.viewsDuringSpike, 2)} of views during its spike (10× its share).`,
    '',
  ];
  if (r.throughput.job.profile) {
    const p = r.throughput.job.profile;
    lines.push('## Profile of the job (`node --cpu-prof`, --workers 1)', '', `${(p.busyMs / 1000).toFixed(1)} s busy of ${(p.sampledMs / 1000).toFixed(1)} s sampled.`, '');
    lines.push(table(['self time', 'share', 'function'], p.selfTop.map((h) => [`${h.ms} ms`, `${(h.share * 100).toFixed(1)} %`, `\`${h.name}\``])), '');
    lines.push(table(['total time', 'share', 'function'], p.totalTop.map((h) => [`${h.ms} ms`, `${(h.share * 100).toFixed(1)} %`, `\`${h.name}\``])), '');
    lines.push(table(['self time', 'share', 'where'], p.byPlace.map((h) => [`${h.ms} ms`, `${(h.share * 100).toFixed(1)} %`, `\`${h.name}\``])), '');
    for (const g of p.groups) {
      const micros = (g.ms * 1000) / r.throughput.job.events;
      lines.push(`The ${g.name} (its code and what it calls, not the window and outcome work of the views it releases): ${g.ms} ms, ${(g.share * 100).toFixed(1)} % of the busy time, ${micros.toFixed(2)} µs per event under the profiler; +${((g.share / (1 - g.share)) * 100).toFixed(0)} % over the rest of the job.`, '');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Says when Redis forked (an AOF rewrite or a save) during a read-API measure: the fork blocks it. */
function forksNote(a: ApiResult): string {
  return a.redisForks > 0 ? `; Redis forked ${a.redisForks}× during the measure (AOF rewrite or save)` : '';
}

function botShare(populations: Record<string, number>): number {
  return Object.entries(populations).reduce((sum, [p, x]) => sum + (p.startsWith('bot_') ? x : 0), 0);
}

function signedPct(value: number, truth: number): string {
  const d = truth > 0 ? ((value - truth) / truth) * 100 : 0;
  return `${d >= 0 ? '+' : ''}${d.toFixed(3)} %`;
}

function pct(part: number, whole: number, digits = 1): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(digits)} %` : '—';
}
