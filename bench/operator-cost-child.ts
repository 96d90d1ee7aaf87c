/**
 * What the job's operators cost without Kafka, sinks or I/O, per event and per stage:
 *
 *   node --import tsx bench/operator-cost-child.ts '<json>'   json = { brokers, topic, group, events, partitions }
 *
 * Reads the first `events` messages of the topic (kafkajs), then runs them, batch by batch as they
 * were fetched, through the job's own chain — raw record → decode → classify → address join →
 * minute windows → collect → fire (the windows the watermarks passed) — on one PartitionTask per
 * partition, timing each stage; every 10 000 events each task hands its by-address records to the
 * address stage (one AddressScorer per partition, as the job's address tasks) and reads the
 * verdicts back (`address`), and every 50 000 each task takes its live increments and ledger, its
 * block and writes its state link, as the job's flushes and checkpoints do. Prints one JSON line.
 */
import { Kafka, logLevel } from 'kafkajs';
import { from, lastValueFrom, map, tap } from 'rxjs';
import { defaultJobConfig } from '../pipeline/config.ts';
import { PartitionTask } from '../pipeline/partition-task.ts';
import { IpHasher } from '../pipeline/ip-privacy.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import { decode } from '../operators/decode.ts';
import { classify } from '../operators/classify.ts';
import { tumblingWindow } from '../operators/tumbling-window.ts';
import { joinAddressVerdicts } from '../operators/address-join.ts';
import { AddressScorer } from '../operators/address-scorer.ts';
import { AddressMessage } from '../schemas/address-messages.ts';
import { rawRecord, type PartitionBatch } from '../operators/view-record.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { brokers: string[]; topic: string; group: string; events: number; partitions: number };
type Fetched = { partition: number; messages: { offset: number; timestamp: number; value: Buffer | null }[] };

async function readTopic(): Promise<Fetched[]> {
  const kafka = new Kafka({ clientId: 'viewtally-bench-operators', brokers: args.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: args.group, maxBytesPerPartition: 4 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic: args.topic, fromBeginning: true });
  const batches: Fetched[] = [];
  let n = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (n >= args.events) return resolveDone();
      const messages = batch.messages.slice(0, args.events - n).map((m) => ({ offset: Number(m.offset), timestamp: Number(m.timestamp), value: m.value ? Buffer.from(m.value) : null }));
      n += messages.length;
      batches.push({ partition: batch.partition, messages });
      if (n >= args.events) resolveDone();
    },
  });
  await done;
  await consumer.disconnect();
  return batches;
}

const fetched = await readTopic();
const config = defaultJobConfig();
const rules = loadBotRules();
const fingerprints = new Fingerprinter(config.stateSeed);
const hasher = new IpHasher('viewtally-bench');
const tasks = Array.from({ length: args.partitions }, (_, partition) =>
  new PartitionTask({ topic: args.topic, partition, progressKey: '', epoch: 1, config, addressPartitions: args.partitions, botRules: () => rules, fingerprints, addressKeys: fingerprints, hasher, livePosition: -1, checkpointOffset: 0 }),
);
type Batch = PartitionBatch & { task: PartitionTask };
const scorers = Array.from({ length: args.partitions }, () => new AddressScorer({ sourcePartitions: args.partitions, rules: () => rules }));
const message = new AddressMessage();
const verdicts: Buffer[] = [];
const ms = { records: 0, decode: 0, classify: 0, join: 0, windows: 0, collect: 0, fire: 0, address: 0, flushAndFire: 0 };
let mark = 0;
const lap = (stage: keyof typeof ms) => {
  const now = performance.now();
  ms[stage] += now - mark;
  mark = now;
};
let events = 0;
let sinceFlush = 0;
const started = performance.now();
const cpu = process.cpuUsage();
await lastValueFrom(
  from(fetched).pipe(
    map((f): Batch => {
      mark = performance.now();
      const records = f.messages.map((m) => rawRecord(m.offset, m.timestamp, m.value));
      const b = { topic: args.topic, partition: f.partition, records, nextOffset: records[records.length - 1].offset + 1, task: tasks[f.partition] };
      lap('records');
      return b;
    }),
    decode<Batch>(),
    tap(() => lap('decode')),
    classify<Batch>({ state: (b) => b.task, view: config.view, time: config.time }),
    tap(() => lap('classify')),
    joinAddressVerdicts<Batch>({ join: (b) => b.task.address }),
    tap(() => lap('join')),
    tumblingWindow<Batch>({ windows: (b) => b.task.windows }),
    tap(() => lap('windows')),
    tap((b) => {
      b.task.collect(b);
      lap('collect');
      b.task.fire(Math.min(...tasks.map((x) => x.watermark.current)));
      lap('fire');
      events += b.records.length;
      sinceFlush += b.records.length;
      if (events % 10_000 < b.records.length) {
        for (const t of tasks) {
          t.takeAddressRecords(false).forEach(({ partition: q, value }) => {
            scorers[q].add(message.load(value));
            verdicts.push(scorers[q].takeVerdicts(q));
          });
        }
        for (const t of tasks) for (let o = t.address.verdicts.cursor; o < verdicts.length; o++) t.readVerdicts(verdicts[o], o);
        lap('address');
      }
      if (sinceFlush >= 50_000) {
        sinceFlush = 0;
        for (const t of tasks) {
          t.takeLive();
          t.takeProvisional();
          t.takeBlock(Math.min(...tasks.map((x) => x.watermark.current)), 'bench');
          t.encodeState();
        }
        lap('flushAndFire');
      }
    }),
  ),
);
const wall = performance.now() - started;
const used = process.cpuUsage(cpu);
const perEvent = (x: number) => Math.round((x * 1000 * 100) / events) / 100;
console.log(
  JSON.stringify({
    events,
    microsPerEvent: perEvent(wall),
    cpuMicrosPerEvent: perEvent((used.user + used.system) / 1000),
    stagesMicrosPerEvent: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, perEvent(v)])),
    eventsPerSecond: Math.round(events / (wall / 1000)),
  }),
);
process.exit(0);
