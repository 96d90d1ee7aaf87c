import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ViewEvent } from '../schemas/view-event.ts';
import { loadBotRules } from './bot-rules-source.ts';
import { createBotScorer } from './bot-scorer.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { DEFAULT_WATCH, FINGERPRINTS, score } from './bot-scorer-fixtures.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const T0 = Date.UTC(2025, 0, 6);
const base: ViewEvent = {
  event_id: 'e',
  event_type: 'view',
  video_id: 'v',
  channel_id: 'c',
  category: 'music',
  viewer_id: null,
  owner_id: 'o',
  session_id: 's',
  ts: T0,
  watch_ms: 120_000,
  video_duration_ms: 600_000,
  country: 'US',
  device: 'mobile',
  traffic_source: 'search',
  ip: '',
  user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  ja3: null,
};

/** Memory per key held, and snapshot bytes per key, after `viewers` viewers with `views` views each (a viewer key each). */
function measure(viewers: number, views: number): { heapBytesPerKey: number; snapshotBytesPerKey: number; keys: number } {
  const rules = loadBotRules();
  gc();
  const before = process.memoryUsage().heapUsed;
  const scorer = createBotScorer({ rules: () => rules, watch: DEFAULT_WATCH, addressKeys: FINGERPRINTS, maxViewerKeys: 1_000_000 });
  for (let i = 0; i < viewers; i++) {
    const ip = `73.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
    for (let j = 0; j < views; j++) {
      score(scorer, { ...base, ts: T0 + i * 10 + j * 60_000, ip, video_id: `v${(i * 7 + j) % 5000}` }, `s:${i.toString(36)}-viewer-session`);
    }
  }
  gc();
  // The tables are typed arrays (outside the JS heap): their own size, plus whatever the JS heap grew by.
  const after = process.memoryUsage().heapUsed + scorer.memoryBytes();
  const keys = scorer.size();
  const w = new BinaryWriter();
  scorer.write(w, false);
  const snapshotBytes = w.length;
  expect(keys).toBe(viewers);
  return { heapBytesPerKey: Math.round((after - before) / keys), snapshotBytesPerKey: Math.round(snapshotBytes / keys), keys };
}

describe('bot scorer memory', () => {
  it('is measured per key and stays bounded', () => {
    const light = measure(100_000, 1);
    const busy = measure(20_000, 8);
    console.log(
      `bot scorer memory: ${light.heapBytesPerKey} B/key with 1 observation (${light.snapshotBytesPerKey} B/key in a snapshot), ` +
        `${busy.heapBytesPerKey} B/key with 8 observations (${busy.snapshotBytesPerKey} B/key in a snapshot); keys = IPs + viewer keys`,
    );
    // Typed-array tables: ~53 B of key and slot per key plus 12 B per observation in power-of-two
    // blocks, with up to 2× of growth slack; a per-key JS object would cost several hundred.
    expect(light.heapBytesPerKey).toBeGreaterThan(53);
    expect(light.heapBytesPerKey).toBeLessThan(160);
    expect(busy.heapBytesPerKey).toBeGreaterThan(53 + 8 * 12);
    expect(busy.heapBytesPerKey).toBeLessThan(320);
    expect(light.snapshotBytesPerKey).toBeLessThan(40);
  });
});
