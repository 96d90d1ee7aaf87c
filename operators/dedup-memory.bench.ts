// Memory per live dedup key and dedup throughput, as the job holds them:
//   node --expose-gc --import tsx operators/dedup-memory.bench.ts
import { BoundedTtlMap } from './bounded-ttl-map.ts';

const KEYS = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function measure(name: string, keyOf: (i: number) => string): void {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const map = new BoundedTtlMap({ ttlMs: 30 * 60_000, maxEntries: 2 * KEYS });
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i++) map.set(keyOf(i), 1_700_000_000_000 + i);
  const insertMs = performance.now() - t0;
  gc!();
  const bytes = (process.memoryUsage().heapUsed - before) / KEYS;
  const t1 = performance.now();
  let hits = 0;
  for (let i = 0; i < KEYS; i++) if (map.get(keyOf(i), 1_700_000_000_000 + KEYS) !== undefined) hits++;
  const lookupMs = performance.now() - t1;
  console.log(
    `${name}: ${Math.round(bytes)} B per live key; set ${Math.round(KEYS / (insertMs / 1000)).toLocaleString('en')}/s, get ${Math.round(KEYS / (lookupMs / 1000)).toLocaleString('en')}/s (${hits} hits)`,
  );
}

// event ids as clients make them (36-char UUIDs) and (viewer key | video) pairs
measure('event_id (uuid)', (i) => `${(0x10000000 + i).toString(16)}-1b2c-4d5e-8f90-${(0x100000000000 + i).toString(16)}`);
measure('viewer|video pair', (i) => `v:viewer-${i}|video-${i % 100_000}`);
