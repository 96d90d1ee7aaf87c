// Decode throughput of the view-event codec on realistic events: `npx tsx schemas/avro-codec.bench.ts`.
import { VIEW_EVENT_TYPE, decodeViewEvent, encodeConfluent, encodeViewEvent } from './avro-codec.ts';
import { validateViewEvent } from './event-validation.ts';
import { parseJsonEvent, toJsonEvent } from './json-event.ts';
import { DEVICES, TRAFFIC_SOURCES, type ViewEvent } from './view-event.ts';

const SAMPLES = 4096;
const ROUNDS = 5;
const ROUND_MS = 500;

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];

/** Deterministic, production-shaped events: uuid-like ids, real user agents, mostly IPv4. */
function sampleEvents(n: number): ViewEvent[] {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const hex = (len: number): string => Array.from({ length: len }, () => Math.floor(rand() * 16).toString(16)).join('');
  const uuid = (): string => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  return Array.from({ length: n }, (): ViewEvent => ({
    event_id: uuid(),
    event_type: pick(['view', 'view', 'heartbeat', 'poll']),
    video_id: hex(11),
    channel_id: `UC${hex(22)}`,
    category: pick(['music', 'gaming', 'news', 'education']),
    viewer_id: rand() < 0.6 ? uuid() : null,
    owner_id: rand() < 0.1 ? uuid() : null,
    session_id: uuid(),
    ts: Date.UTC(2024, 5, 1) + Math.floor(rand() * 86_400_000),
    watch_ms: Math.floor(rand() * 600_000),
    video_duration_ms: rand() < 0.9 ? 60_000 + Math.floor(rand() * 3_600_000) : null,
    country: pick(['US', 'DE', 'IN', 'BR', 'JP', 'ZZ']),
    device: pick(DEVICES),
    traffic_source: pick(TRAFFIC_SOURCES),
    ip: rand() < 0.85
      ? `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`
      : `2001:db8:${hex(4)}::${hex(4)}`,
    user_agent: pick(USER_AGENTS),
    ja3: rand() < 0.5 ? hex(32) : null,
  }));
}

let sink = 0;

/** Best of ROUNDS rounds of ROUND_MS each, in operations per second. */
function bench(name: string, inputs: readonly unknown[], op: (input: never) => unknown): void {
  const n = inputs.length;
  const run = (ms: number): number => {
    let ops = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < n; i++) if (op(inputs[i] as never) !== undefined) sink++;
      ops += n;
      now = process.hrtime.bigint();
    }
    return ops / (Number(now - start) / 1e9);
  };
  run(ROUND_MS); // warm-up: let the JIT settle
  const rates = Array.from({ length: ROUNDS }, () => run(ROUND_MS)).sort((a, b) => b - a);
  const fmt = (r: number): string => Math.round(r).toLocaleString('en-US').padStart(11);
  console.log(`${name.padEnd(44)} ${fmt(rates[0])} ops/s  (median ${fmt(rates[Math.floor(ROUNDS / 2)]).trim()})`);
}

const events = sampleEvents(SAMPLES);
const plain = events.map((e) => encodeViewEvent(e));
const framed = events.map((e) => encodeConfluent(e, 1));
const lines = events.map(toJsonEvent);
const meanBytes = plain.reduce((s, b) => s + b.length, 0) / plain.length;

console.log(`node ${process.version}, ${SAMPLES} distinct events, mean Avro body ${meanBytes.toFixed(0)} bytes, best of ${ROUNDS} × ${ROUND_MS} ms`);
bench('decodeViewEvent, plain Avro (validated)', plain, (b: Buffer) => decodeViewEvent(b));
bench('decodeViewEvent, Confluent frame (validated)', framed, (b: Buffer) => decodeViewEvent(b));
bench('decodeViewEvent, plain Avro, validate: false', plain, (b: Buffer) => decodeViewEvent(b, { validate: false }));
bench('avsc Type.fromBuffer alone (reference)', plain, (b: Buffer) => VIEW_EVENT_TYPE.fromBuffer(b));
bench('validateViewEvent alone', events, (e: ViewEvent) => validateViewEvent(e) ?? e);
bench('encodeViewEvent (validated)', events, (e: ViewEvent) => encodeViewEvent(e));
bench('parseJsonEvent, JSON line (reference)', lines, (l: string) => parseJsonEvent(l));
if (sink === 0) console.log('(no results)');
