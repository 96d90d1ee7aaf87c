/**
 * The load generator as a process of its own, so generating runs beside producing:
 *
 *   node --import tsx bench/load-child.ts '<json>'   json = { mode, shape, out?, statsFile }
 *
 * `topic` writes (key, Avro value) frames to stdout; `pool` writes (key, Avro head, Avro tail)
 * frames to `out` for the freshness producer, which stamps `ts` at send time. The stream's
 * statistics go to `statsFile` as JSON once everything is written.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { generateLabelledStream } from './labelled-stream.ts';
import { benchEvent, benchStreamOptions, StreamStatsCollector, type BenchStreamShape } from './bench-stream.ts';
import { FrameWriter, splitAtTs } from './bench-frames.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';

interface LoadChildArgs {
  mode: 'topic' | 'pool';
  shape: BenchStreamShape;
  out?: string;
  statsFile: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as LoadChildArgs;
const options = benchStreamOptions(args.shape);
const stream = generateLabelledStream(options);
const collector = new StreamStatsCollector(options);
const sink = args.mode === 'pool' ? createWriteStream(args.out!) : process.stdout;
const writer = new FrameWriter(sink);

for (const item of stream.events()) {
  const event = benchEvent(item.event);
  const key = Buffer.from(kafkaKey(event));
  if (args.mode === 'pool') {
    const split = splitAtTs(event);
    collector.add(event, item.expected, item.population, split.head.length + split.tail.length + 6);
    await writer.write(key, split.head, split.tail);
  } else {
    const value = encodeViewEvent(event);
    collector.add(event, item.expected, item.population, value.length);
    await writer.write(key, value);
  }
}
await writer.flush();
if (sink !== process.stdout) {
  sink.end();
  await once(sink, 'finish');
}
writeFileSync(args.statsFile, JSON.stringify({ ...collector.stats, actors: stream.actors }));
