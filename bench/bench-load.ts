import { constants } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Producer, compatibilityPartitioner } from '@platformatic/kafka';
import { ensureTopic } from '../pipeline/topic.ts';
import { REPO_ROOT, infraRoot } from '../infra/infra-paths.ts';
import { benchStreamOptions, type BenchStreamShape, type StreamStats } from './bench-stream.ts';
import { FrameReader, stampTs } from './bench-frames.ts';

const MINUTE = 60_000;
/** A pre-loaded topic is reused for this long; older ones are produced afresh (event times would age out of retention). */
const REUSE_FOR_MS = 3 * 24 * 60 * MINUTE;
/** Messages per produce request: ~1 MB spread over the partitions, under the broker's per-batch limit. */
const SEND_BATCH = 4_000;

/** Where the benchmark keeps what it can reuse between runs (git-ignored, beside the local infra). */
export function benchCacheDir(): string {
  const dir = join(infraRoot(), 'bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs a bench script in a process of its own (TypeScript through tsx), from the repo root. */
export function spawnBenchScript(script: string, args: string[], options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  // TypeScript through tsx; a .mjs (the CLI, bin/viewtally.mjs) loads its own build
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function waitExit(child: ReturnType<typeof spawn>, what: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited ${code}: ${stderr().slice(-2000)}`))));
  });
}

/** A topic holding the benchmark's stream, produced now or found from an earlier run. */
export interface PreloadedTopic {
  topic: string;
  partitions: number;
  shape: BenchStreamShape;
  stats: StreamStats & { actors: Record<string, number> };
  producedAt: string;
  reused: boolean;
  /** Time to generate and produce it (this run, or the run that produced it). */
  produceSeconds: number;
  produceEventsPerSecond: number;
}

interface PreloadRequest {
  brokers: string[];
  partitions: number;
  seed: number;
  events: number;
  minutes: number;
  videos: number;
  /** Reuse a topic an earlier run produced with the same stream (default true). */
  reuse?: boolean;
  log: (line: string) => void;
}

/** Identity of a stream apart from when it starts: a changed generator or option makes a new topic. */
function streamId(r: PreloadRequest): string {
  const options = benchStreamOptions({ seed: r.seed, events: r.events, minutes: r.minutes, videos: r.videos, startMs: 0 });
  const source = ['labelled-stream.ts', 'labelled-stream-actors.ts', 'labelled-stream-world.ts', 'labelled-stream-labels.ts', 'bench-stream.ts']
    .map((f) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8'))
    .join('\n');
  // the brokers are part of it: the single-node Kafka and the local cluster each hold their own copy
  return createHash('sha256').update(JSON.stringify([options, r.partitions, source, r.brokers])).digest('hex').slice(0, 10);
}

/**
 * Pre-loads a topic with the benchmark's stream (fixed seed). The generator runs in a child
 * process and hands over encoded frames; this process produces them with @platformatic/kafka
 * (a producer ~3× faster than kafkajs's here, so the pre-load takes less of the run), partitioned
 * exactly as kafkajs and Java partition a key (murmur2). A topic produced from the same stream
 * within three days, complete, is reused.
 */
export async function preloadTopic(r: PreloadRequest): Promise<PreloadedTopic> {
  const id = streamId(r);
  const manifestPath = join(benchCacheDir(), `preload-${r.seed}-${r.events}-${id}.json`);
  const kafka = new Kafka({ clientId: 'viewtally-bench', brokers: r.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (r.reuse !== false && existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as PreloadedTopic;
      const fresh = Date.now() - Date.parse(manifest.producedAt) < REUSE_FOR_MS;
      const topics = await admin.listTopics();
      if (fresh && topics.includes(manifest.topic)) {
        const offsets = await admin.fetchTopicOffsets(manifest.topic);
        const held = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
        if (held === r.events && offsets.every((o) => Number(o.low) === 0)) {
          r.log(`preload: reusing ${manifest.topic} (${r.events} events, produced ${manifest.producedAt})`);
          return { ...manifest, reused: true };
        }
      }
    }
    const topic = `vt-bench-load-${r.seed}-${r.events}-${id}-${Date.now().toString(36)}`;
    await ensureTopic(admin, topic, r.partitions);
    // Event time ends an hour before now: nothing is in the future, everything is within retention.
    const startMs = Math.floor(Date.now() / MINUTE) * MINUTE - (r.minutes + 60) * MINUTE;
    const shape: BenchStreamShape = { seed: r.seed, events: r.events, minutes: r.minutes, videos: r.videos, startMs };
    const started = performance.now();
    const stats = await produceStream(r.brokers, topic, r.partitions, shape, r.log);
    const seconds = (performance.now() - started) / 1000;
    const result: PreloadedTopic = {
      topic,
      partitions: r.partitions,
      shape,
      stats,
      producedAt: new Date().toISOString(),
      reused: false,
      produceSeconds: round(seconds, 1),
      produceEventsPerSecond: Math.round(r.events / seconds),
    };
    writeFileSync(manifestPath, JSON.stringify(result, null, 2));
    return result;
  } finally {
    await admin.disconnect();
  }
}

async function produceStream(brokers: string[], topic: string, partitions: number, shape: BenchStreamShape, log: (line: string) => void): Promise<PreloadedTopic['stats']> {
  const statsFile = join(benchCacheDir(), `stats-${randomBytes(4).toString('hex')}.json`);
  const child = spawnBenchScript('bench/load-child.ts', [JSON.stringify({ mode: 'topic', shape, statsFile })]);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = waitExit(child, 'load generator', () => stderr);
  const producer = new Producer({ clientId: 'viewtally-bench-preload', bootstrapBrokers: brokers, acks: 1, autocreateTopics: false });
  const reader = new FrameReader(2);
  const inFlight: Promise<unknown>[] = [];
  let batch: { topic: string; key: Buffer; value: Buffer; partition: number }[] = [];
  let sent = 0;
  let lastLog = performance.now();
  const send = async () => {
    if (batch.length === 0) return;
    inFlight.push(producer.send({ messages: batch }));
    sent += batch.length;
    batch = [];
    if (inFlight.length >= 4) await inFlight.shift();
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`preload: ${sent} events sent to ${topic}`);
    }
  };
  try {
    for await (const chunk of child.stdout!) {
      for (const [key, value] of reader.push(chunk as Buffer)) {
        batch.push({ topic, key, value, partition: compatibilityPartitioner(undefined as never, key) % partitions });
        if (batch.length >= SEND_BATCH) await send();
      }
    }
    await send();
    await Promise.all(inFlight);
    await exited;
    if (reader.leftover !== 0) throw new Error(`load generator: ${reader.leftover} bytes of a truncated frame`);
    const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as PreloadedTopic['stats'];
    if (stats.events !== sent) throw new Error(`load generator reported ${stats.events} events, ${sent} were sent`);
    return stats;
  } finally {
    child.kill();
    rmSync(statsFile, { force: true });
    await producer.close();
  }
}

/** Events to produce at a fixed rate, encoded once: `message(i, ts)` stamps the send time into event `i`. */
export interface EventPool {
  size: number;
  stats: StreamStats;
  message(i: number, ts: number): { key: Buffer; value: Buffer };
}

/**
 * The freshness phase's events (the same kind of stream, another seed, its own videos' share of
 * the catalogue), generated once into a file under the bench cache and reused.
 */
export async function loadEventPool(shape: BenchStreamShape, log: (line: string) => void): Promise<EventPool> {
  const file = join(benchCacheDir(), `pool-${shape.seed}-${shape.events}-${createHash('sha256').update(JSON.stringify(benchStreamOptions(shape))).digest('hex').slice(0, 10)}.bin`);
  const statsPath = `${file}.json`;
  if (!existsSync(file) || !existsSync(statsPath)) {
    const started = performance.now();
    const tmp = `${file}.${process.pid}.tmp`;
    const child = spawnBenchScript('bench/load-child.ts', [JSON.stringify({ mode: 'pool', shape, out: tmp, statsFile: `${tmp}.json` })]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitExit(child, 'pool generator', () => stderr);
    renameSync(`${tmp}.json`, statsPath);
    renameSync(tmp, file);
    log(`freshness pool: ${shape.events} events generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const data = readWhole(file);
  const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as StreamStats;
  // Offsets, not a million Buffer views: the producer's heap stays small and its GC pauses short.
  const index = indexFrames(data, shape.events);
  return {
    size: shape.events,
    stats,
    message(i, ts) {
      const at = (i % shape.events) * 6;
      const part = (k: number) => data.subarray(index[at + 2 * k], index[at + 2 * k] + index[at + 2 * k + 1]);
      return { key: part(0), value: stampTs({ head: part(1), tail: part(2) }, ts) };
    },
  };
}

/** A whole file in one buffer, read a GiB at a time: readFileSync stops at 2 GiB, and a pool for a minutes-long freshness run is more. */
function readWhole(file: string): Buffer {
  const size = statSync(file).size;
  if (size > constants.MAX_LENGTH) throw new Error(`freshness pool: ${file} is ${size} bytes, more than a buffer holds (${constants.MAX_LENGTH}); ask for fewer --fresh-seconds or a lower --fresh-rate`);
  const data = Buffer.allocUnsafe(size);
  const fd = openSync(file, 'r');
  try {
    for (let at = 0; at < size; ) {
      const n = readSync(fd, data, at, Math.min(2 ** 30, size - at), at);
      if (n === 0) throw new Error(`freshness pool: ${file} ended at byte ${at} of ${size}`);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return data;
}

/** Start and length of each part of `count` (key, head, tail) frames. */
function indexFrames(data: Buffer, count: number): Uint32Array {
  const index = new Uint32Array(count * 6);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 3; k++) {
      const width = k === 0 ? 2 : 4;
      if (pos + width > data.length) throw new Error(`freshness pool: ${i} frames, expected ${count}`);
      const len = k === 0 ? data.readUInt16LE(pos) : data.readUInt32LE(pos);
      index[i * 6 + 2 * k] = pos + width;
      index[i * 6 + 2 * k + 1] = len;
      pos += width + len;
    }
  }
  if (pos !== data.length) throw new Error(`freshness pool: ${data.length - pos} bytes after ${count} frames`);
  return index;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
