import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDashboardTable } from './bench-dashboard.ts';
import { summariseProfile } from './cpu-profile.ts';
import { warmRun, type JobPoint } from './bench-throughput.ts';

describe('dashboard table', () => {
  it('reads the latency harness output: every query, the row counts, the worst 30-day p95', () => {
    const out = [
      'query                                               p50 ms  p95 ms  max ms',
      'viewsOverTime 30 d, popular channel (hour buckets)      67     274     274',
      'viewsOverTime 24 h, popular video (minute buckets)      23     947     947',
      'totals 30 d, one category, all channels                 92     134     134',
      '(1,999,493 minute rows, 1,974,884 hour rows, 10 runs each, target embedded:/x/dashboard-2000000)',
    ].join('\n');
    const r = parseDashboardTable(out);
    expect(r.queries).toEqual([
      { query: 'viewsOverTime 30 d, popular channel (hour buckets)', p50Ms: 67, p95Ms: 274, maxMs: 274 },
      { query: 'viewsOverTime 24 h, popular video (minute buckets)', p50Ms: 23, p95Ms: 947, maxMs: 947 },
      { query: 'totals 30 d, one category, all channels', p50Ms: 92, p95Ms: 134, maxMs: 134 },
    ]);
    expect([r.minuteRows, r.hourRows, r.runs, r.target]).toEqual([1_999_493, 1_974_884, 10, 'embedded:/x/dashboard-2000000']);
    // The target is about 30-day queries: the 24 h one does not count.
    expect(r.worst30DayP95Ms).toBe(274);
  });

  it('refuses output without a table', () => {
    expect(() => parseDashboardTable('day 1/30: 3,366,667 rows in 89 s')).toThrow(/no result table/);
  });
});

describe('cpu profile summary', () => {
  it('adds self and total time per function, counts a recursive function once per sample, leaves idle out', () => {
    const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, lineNumber: 9 }, children });
    const profile = {
      nodes: [
        frame(1, '(root)', '', [2, 5]),
        frame(2, 'run', 'file:///repo/node_modules/kafkajs/src/run.js', [3]),
        frame(3, 'decode', 'file:///repo/operators/decode.ts', [4]),
        frame(4, 'decode', 'file:///repo/operators/decode.ts'),
        frame(5, '(idle)', ''),
      ],
      // Each sample's time is the next delta: decode 30 µs (twice 10 + 20), run 5 µs, idle 100 µs.
      samples: [3, 4, 2, 5, 3],
      timeDeltas: [0, 10, 20, 5, 100, 0],
    };
    const dir = mkdtempSync(join(tmpdir(), 'vt-prof-'));
    try {
      const file = join(dir, 'p.cpuprofile');
      writeFileSync(file, JSON.stringify(profile));
      const s = summariseProfile(file, 15, { decoding: { include: /operators\/decode\.ts$/ }, sinks: { include: /^sinks\// }, reading: { include: /kafkajs/, exclude: /decode\.ts$/ } });
      expect(s.busyMs).toBe(0); // 35 µs busy rounds to 0 ms; shares carry the detail
      expect(s.selfTop.map((h) => [h.name.split(' ')[0], h.share])).toEqual([
        ['decode', 0.857],
        ['run', 0.143],
      ]);
      expect(s.totalTop.find((h) => h.name.startsWith('run'))?.share).toBe(1);
      expect(s.totalTop.find((h) => h.name.startsWith('decode'))?.share).toBe(0.857);
      expect(s.byPlace.map((h) => h.name)).toEqual([expect.stringMatching(/decode\.ts$/), 'kafkajs']);
      // decode's samples (30 of 35 µs), whichever frame of the stack is decode's; no frame in sinks/;
      // run's own 5 µs, not what it hands to decode
      expect(s.groups.map((h) => [h.name, h.share])).toEqual([
        ['decoding', 0.857],
        ['reading', 0.143],
        ['sinks', 0],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the TypeScript source of a frame in compiled code that has a source map beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vt-prof-map-'));
    try {
      writeFileSync(join(dir, 'scorer.ts'), 'export function first(): number {\n  return 1;\n}\n\nexport function score(x: number): number {\n  return x * 2;\n}\n');
      const { build } = await import('esbuild');
      await build({ entryPoints: [join(dir, 'scorer.ts')], outfile: join(dir, 'out', 'chunk.js'), bundle: true, format: 'esm', sourcemap: 'linked', logLevel: 'silent' });
      const js = readFileSync(join(dir, 'out', 'chunk.js'), 'utf8').split('\n');
      const line = js.findIndex((l) => l.includes('function score'));
      const url = `file://${join(dir, 'out', 'chunk.js')}`;
      const profile = {
        nodes: [
          { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
          { id: 2, callFrame: { functionName: 'score', url, lineNumber: line, columnNumber: js[line].indexOf('function') }, children: [] },
        ],
        samples: [2, 2],
        timeDeltas: [0, 10, 0],
      };
      writeFileSync(join(dir, 'p.cpuprofile'), JSON.stringify(profile));
      const s = summariseProfile(join(dir, 'p.cpuprofile'));
      // line 5 of scorer.ts, not the chunk's
      expect(s.selfTop.map((h) => h.name)).toEqual([expect.stringMatching(/^score .*scorer\.ts:5$/)]);
      expect(s.byPlace.map((h) => h.name)).toEqual([expect.stringMatching(/scorer\.ts$/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a job run once warm', () => {
  const point = (t: number, processed: number, cpuSeconds: number): JobPoint => ({ t, processed, rate: 0, lag: 0, rssBytes: 0, pending: 0, dedupEntries: 0, cpuSeconds });

  it('takes CPU and events from a fifth of the events to the first sample at the end, not the start-up or the idle tail', () => {
    const series = [
      point(0.5, 0, 0.3), // start-up: modules, connections, the JIT
      point(1, 100_000, 2.5),
      point(1.5, 200_000, 3.6), // a fifth of 1 000 000: from here
      point(2, 400_000, 5.6),
      point(3, 800_000, 9.6),
      point(3.5, 1_000_000, 11.6), // the end position: to here
      point(4, 1_000_000, 12.4), // idle wait and the final checkpoint
    ];
    // 8 CPU seconds for 800 000 events in 2 s.
    expect(warmRun(series, 1_000_000)).toEqual({ cpuMicrosPerEvent: 10, eventsPerSecond: 400_000 });
  });

  it('tells nothing of a run too short to sample, or without the CPU metric', () => {
    expect(warmRun([point(0.5, 0, 0.3), point(1, 1_000_000, 9)], 1_000_000)).toBeNull();
    expect(warmRun([point(1, 300_000, 0), point(2, 1_000_000, 0)], 1_000_000)).toBeNull();
  });
});
