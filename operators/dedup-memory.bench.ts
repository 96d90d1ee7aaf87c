// Memory per live dedup key (RSS of this process) and dedup speed, as the job holds them:
//   node --expose-gc --import tsx operators/dedup-memory.bench.ts
import { DedupStore, entriesForBudget } from './dedup-store.ts';
import { Fingerprinter } from './fingerprint.ts';

const KEYS = 2_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const fp = new Fingerprinter('0123456789abcdef0123456789abcdef');

function measure(name: string, keyOf: (i: number) => string): void {
  gc!();
  const before = process.memoryUsage().rss;
  const store = new DedupStore({ ttlMs: 24 * 60 * 60_000, maxEntries: entriesForBudget(80 * 2 ** 20) });
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i++) {
    fp.string(keyOf(i));
    store.set(fp.hi, fp.lo, 1_700_000_000_000 + i);
  }
  const insertMs = performance.now() - t0;
  gc!();
  const rss = (process.memoryUsage().rss - before) / (KEYS / 1e6);
  const t1 = performance.now();
  let hits = 0;
  for (let i = 0; i < KEYS; i++) {
    fp.string(keyOf(i));
    if (!Number.isNaN(store.get(fp.hi, fp.lo, 1_700_000_000_000 + KEYS))) hits++;
  }
  const lookupMs = performance.now() - t1;
  console.log(
    `${name}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB per million live keys (tables ${(store.memoryBytes() / KEYS).toFixed(1)} B per key); ` +
      `fingerprint + set ${Math.round(KEYS / (insertMs / 1000)).toLocaleString('en')}/s, fingerprint + get ${Math.round(KEYS / (lookupMs / 1000)).toLocaleString('en')}/s (${hits} hits)`,
  );
}

// event ids as clients make them (36-char UUIDs) and (viewer key | video) pairs
measure('event_id (uuid)', (i) => `${(0x10000000 + i).toString(16)}-1b2c-4d5e-8f90-${(0x100000000000 + i).toString(16)}`);
measure('viewer|video pair', (i) => `v:viewer-${i}|video-${i % 100_000}`);
