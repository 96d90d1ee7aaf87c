import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateLabelledStream } from '../bench/labelled-stream.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import { classifyRecord } from '../operators/classify.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { rawRecord } from '../operators/view-record.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { readViewsRows } from '../schemas/clickhouse-rows.ts';
import { VerdictWriter } from '../schemas/address-messages.ts';
import { defaultJobConfig } from './config.ts';
import { IpHasher } from './ip-privacy.ts';
import { PartitionTask } from './partition-task.ts';

const fixture = JSON.parse(readFileSync(new URL('./legacy-state.fixture.json', import.meta.url), 'utf8')) as {
  eventsSha256: string;
  chain: string[];
  next: string[];
  rows: Array<{ minute: number; video_id: string; channel_id: string; category: string; country: string; device: string; traffic_source: string; views: number; viewers: number }>;
};

describe('a checkpoint chain of viewtally 0.1 (gzipped JSON)', () => {
  it('restores a snapshot and its changes into this version’s tables, which then decide as 0.1 did (its per-address bots left to the address stage) and hold the same open windows', () => {
    const items = generateLabelledStream({ seed: 77, events: 3000, videos: 60, minutes: 6, startMs: Date.UTC(2026, 10, 30, 12), mix: { human_cgnat: 0, bot_farm: 0 } }).toArray();
    const events = items.map((l) => l.event);
    expect(createHash('sha256').update(JSON.stringify(events)).digest('hex')).toBe(fixture.eventsSha256);
    const config = defaultJobConfig();
    const rules = loadBotRules();
    const task = new PartitionTask({
      topic: 't',
      partition: 0,
      progressKey: 'k',
      epoch: 2,
      config,
      addressPartitions: 1,
      botRules: () => rules,
      fingerprints: new Fingerprinter(config.stateSeed),
      addressKeys: new Fingerprinter(config.stateSeed),
      hasher: new IpHasher('x'),
      livePosition: -1,
      checkpointOffset: 0,
    });
    task.restore(fixture.chain.map((b) => Buffer.from(b, 'base64')));
    expect(task.nextOffset).toBe(2400);
    // every event id 0.1 remembered (each view before the cut) is held, under its fingerprint
    const fp = new Fingerprinter(config.stateSeed);
    const ids = new Set(events.slice(0, 2400).filter((e) => e.event_type === 'view').map((e) => e.event_id));
    expect(task.eventIds.size).toBe(ids.size);
    for (const id of ids) expect(Number.isNaN(task.eventIds.get((fp.string(id), fp.hi), fp.lo, events[2399].ts))).toBe(false);
    const decided = events.slice(2400).map((e, i) => {
      const r = rawRecord(2400 + i, e.ts + 1000, null);
      r.event = e;
      classifyRecord(r, task, config.view, config.time);
      task.address.join(r);
      task.windows.add(r);
      return r;
    });
    // Every decision is 0.1's, but for views 0.1 called bots from per-address signals: those are
    // now provisional (held for the address stage's verdict), and, unflagged here, counted.
    const changed = decided.flatMap((r, i) => (r.outcome === fixture.next[i] ? [] : [{ r, was: fixture.next[i], population: items[2400 + i].population }]));
    expect(changed.every((c) => c.was === 'bot' && c.r.held && c.population.startsWith('bot_'))).toBe(true);
    expect(changed.length).toBeGreaterThan(100);
    expect(changed.length).toBeLessThan(fixture.next.filter((o) => o === 'bot').length);
    const final = new VerdictWriter().take(0, Number.POSITIVE_INFINITY);
    task.readVerdicts(final, 0);
    const views = new BinaryWriter();
    task.windows.fire(Number.POSITIVE_INFINITY, { views, outcomes: new BinaryWriter() });
    const rows = readViewsRows(views.copy()).map((r) => ({ ...r, viewers: r.viewers.length }));
    const key = (r: { minute: number; video_id: string; country: string; device: string; traffic_source: string }) => `${r.minute}|${r.video_id}|${r.country}|${r.device}|${r.traffic_source}`;
    const expected = new Map(fixture.rows.map((r) => [key(r), { ...r }]));
    for (const { r } of changed.filter((c) => c.r.outcome === 'counted')) {
      const e = r.event!;
      const row = { minute: Math.floor(e.ts / 60_000) * 60_000, video_id: e.video_id, channel_id: e.channel_id, category: e.category, country: e.country, device: e.device, traffic_source: e.traffic_source, views: 0, viewers: 0 };
      const at = expected.get(key(row)) ?? row;
      expected.set(key(row), { ...at, views: at.views + 1, viewers: at.viewers + 1 });
    }
    expect(new Map(rows.map((r) => [key(r), r]))).toEqual(expected);
    // and the next checkpoint starts a chain of this version
    expect(task.encodeState().full).toBe(true);
  });
});
