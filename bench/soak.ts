// A long run at a steady rate, for flat memory and lag:
//   npx tsx bench/soak.ts --minutes 30 --rate 3000
// The stream starts `--warmup-minutes` earlier and that part is skipped, so the produced part has
// every kind of viewer already mid-session: a steady rate from the first minute.
// The job runs with bench/soak.config.json (10-min dedup horizons) and bench/soak.bot-rules.json
// (10-min bot windows), so all its state reaches its steady size within the run, unless VT_CONFIG
// or VT_BOT_RULES name other files.
// writes bench/results/soak.json and soak.md (RSS, heap, lag and the watermarks' delays every
// `--sample-seconds`, 15 by default). How long a provisional view can stand is the verdict
// watermark's delay: sample it often to catch its peaks, e.g.
//   npx tsx bench/soak.ts --minutes 5 --rate 5000 --warmup-minutes 2 --sample-seconds 0.5
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { generateLabelledStream } from './labelled-stream.ts';
import { connectProducer, produceEvents } from '../pipeline/produce.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { infraUp } from '../infra/services.ts';
import { metricSum as metric } from '../pipeline/metrics.ts';
import { percentile } from './percentile.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, rate: { type: 'string', default: '3000' }, port: { type: 'string', default: '19465' }, 'warmup-minutes': { type: 'string', default: '60' }, 'sample-seconds': { type: 'string', default: '15' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const port = Number(values.port);
const warmup = Number(values['warmup-minutes']);
const sampleMs = Number(values['sample-seconds']) * 1000;
await infraUp();
const config = resolveJobConfig({});
const topic = `soak-${Date.now().toString(36)}`;
const producer = await connectProducer({ brokers: config.brokers, topic, partitions: 4, clientId: 'soak' });

const root = new URL('..', import.meta.url).pathname;
const configFile = process.env.VT_CONFIG ?? `${root}bench/soak.config.json`;
const botRulesFile = process.env.VT_BOT_RULES ?? `${root}bench/soak.bot-rules.json`;
const job = spawn(process.execPath, ['bin/viewtally.mjs', 'run', '--topic', topic, '--group', topic, '--metrics-port', String(port)], {
  cwd: root,
  env: { ...process.env, VT_LOG_LEVEL: 'warn', VT_CONFIG: configFile, VT_BOT_RULES: botRulesFile },
  stdio: ['ignore', 'ignore', 'inherit'],
});

const start = Date.now();
const end = start + minutes * 60_000;
const stream = generateLabelledStream({ seed: 7, events: Math.ceil(rate * (minutes + warmup) * 60 * 1.05), videos: 200_000, minutes: minutes + warmup + 1, startMs: start - warmup * 60_000 });
let produced = 0;
const feeding = (async () => {
  let batch: { line: number; event: ReturnType<typeof stream.toArray>[number]['event'] }[] = [];
  for (const { event } of stream.events()) {
    if (Date.now() >= end) break;
    if (event.ts < start) continue;
    // keep the produce rate: event time follows the clock
    while (event.ts > Date.now()) await sleep(50);
    batch.push({ line: ++produced, event });
    if (batch.length >= 500) {
      await produceEvents(producer, topic, batch);
      batch = [];
    }
  }
  await produceEvents(producer, topic, batch);
})();

const samples: { minute: number; produced: number; rssMiB: number; heapUsedMiB: number; lag: number; dedupEntries: number; botKeys: number; watermarkDelayS: number; verdictDelayS: number; provisionalViews: number }[] = [];
while (Date.now() < end) {
  await sleep(sampleMs);
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
  if (!text) continue;
  samples.push({
    minute: Math.round(((Date.now() - start) / 60_000) * 100) / 100,
    produced,
    rssMiB: Math.round(metric(text, 'viewtally_process_resident_memory_bytes') / 2 ** 20),
    heapUsedMiB: Math.round(metric(text, 'viewtally_nodejs_heap_size_used_bytes') / 2 ** 20),
    lag: metric(text, 'viewtally_consumer_lag{'),
    dedupEntries: metric(text, 'viewtally_dedup_entries'),
    botKeys: metric(text, 'viewtally_bot_keys'),
    watermarkDelayS: Math.round(metric(text, 'viewtally_watermark_delay_seconds') * 10) / 10,
    verdictDelayS: Math.round(metric(text, 'viewtally_verdict_watermark_delay_seconds') * 10) / 10,
    provisionalViews: metric(text, 'viewtally_provisional_views'),
  });
  process.stderr.write(`\r${JSON.stringify(samples[samples.length - 1])}   `);
}
await feeding;
job.kill('SIGTERM');
await new Promise((r) => job.once('exit', r));
await producer.disconnect();

const after = samples.filter((s) => s.minute >= 5);
const verdictDelays = samples.filter((s) => s.minute >= 2 && Number.isFinite(s.verdictDelayS)).map((s) => s.verdictDelayS).sort((a, b) => a - b);
const summary = {
  topic,
  config: JSON.parse(readFileSync(configFile, 'utf8')),
  botRules: botRulesFile,
  minutes,
  rate,
  produced,
  rssMiB: { first: samples[0]?.rssMiB, afterWarmup: { min: Math.min(...after.map((s) => s.rssMiB)), max: Math.max(...after.map((s) => s.rssMiB)) }, last: samples.at(-1)?.rssMiB },
  heapUsedMiB: { afterWarmup: { min: Math.min(...after.map((s) => s.heapUsedMiB)), max: Math.max(...after.map((s) => s.heapUsedMiB)) }, last: samples.at(-1)?.heapUsedMiB },
  lag: { max: Math.max(...samples.map((s) => s.lag)), last: samples.at(-1)?.lag },
  // no undecided view is older than this (wall clock − verdict watermark); from minute 2, once steps are judged
  verdictDelayS: { fromMinute2: { min: verdictDelays[0], p50: percentile(verdictDelays, 50), max: verdictDelays.at(-1) } },
  samples,
};
const dir = new URL('./results/', import.meta.url).pathname;
writeFileSync(`${dir}soak.json`, JSON.stringify(summary, null, 2));
writeFileSync(
  `${dir}soak.md`,
  [`# Soak: ${minutes} min at ${rate} events/s (${produced} events)`, '', '| minute | produced | RSS MiB | heap used MiB | lag | dedup entries | bot keys | watermark delay s | verdict delay s | provisional views |', '|---|---|---|---|---|---|---|---|---|---|', ...samples.map((s) => `| ${s.minute} | ${s.produced} | ${s.rssMiB} | ${s.heapUsedMiB} | ${s.lag} | ${s.dedupEntries} | ${s.botKeys} | ${s.watermarkDelayS} | ${s.verdictDelayS} | ${s.provisionalViews} |`)].join('\n') + '\n',
);
console.log(JSON.stringify({ ...summary, samples: samples.length }));
process.exit(0);
