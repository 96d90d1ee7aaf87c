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
  it('restores a snapshot and its changes into this version’s tables, which then decide exactly as 0.1 did and hold the same open windows', () => {
    const events = generateLabelledStream({ seed: 77, events: 3000, videos: 60, minutes: 6, startMs: Date.UTC(2026, 10, 30, 12), mix: { human_cgnat: 0, bot_farm: 0 } }).toArray().map((l) => l.event);
    expect(createHash('sha256').update(JSON.stringify(events)).digest('hex')).toBe(fixture.eventsSha256);
    const config = defaultJobConfig();
    const rules = loadBotRules();
    const task = new PartitionTask({
      topic: 't',
      partition: 0,
      progressKey: 'k',
      epoch: 2,
      config,
      partitionCount: 1,
      botRules: () => rules,
      fingerprints: new Fingerprinter(config.stateSeed),
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
      task.windows.add(r);
      return r.outcome;
    });
    expect(decided).toEqual(fixture.next);
    const views = new BinaryWriter();
    task.windows.fire(Number.POSITIVE_INFINITY, { views, outcomes: new BinaryWriter() });
    const rows = readViewsRows(views.copy()).map((r) => ({ ...r, viewers: r.viewers.length }));
    const key = (r: { minute: number; video_id: string; country: string; device: string; traffic_source: string }) => `${r.minute}|${r.video_id}|${r.country}|${r.device}|${r.traffic_source}`;
    expect(new Map(rows.map((r) => [key(r), r]))).toEqual(new Map(fixture.rows.map((r) => [key(r), r])));
    // and the next checkpoint starts a chain of this version
    expect(task.encodeState().full).toBe(true);
  });
});
