import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { readOutcomeRows, readViewsRows } from '../schemas/clickhouse-rows.ts';
import { DEVICES, OUTCOMES, TRAFFIC_SOURCES } from '../schemas/view-event.ts';
import { MinuteWindows } from './tumbling-window.ts';
import { fingerprintOf, testEvent, testRecord } from './test-records.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const counted = (ts: number, video = 'v', viewer = 'a') => {
  const r = testRecord(testEvent({ ts, video_id: video, viewer_id: viewer }));
  r.outcome = 'counted';
  return r;
};

/** Fires and decodes the rows. */
function fire(w: MinuteWindows, watermark: number) {
  const out = { views: new BinaryWriter(64), outcomes: new BinaryWriter(64) };
  const windowsFired = w.fire(watermark, out);
  return { windowsFired, views: readViewsRows(out.views.copy()), outcomes: readOutcomeRows(out.outcomes.copy()) };
}

/** The windows as a checkpoint link writes them: whole, or what they gained since the last write. */
function written(w: MinuteWindows, changedOnly: boolean): Buffer {
  const bytes = new BinaryWriter(64);
  w.write(bytes, changedOnly);
  return bytes.copy();
}

describe('MinuteWindows', () => {
  it('keeps out-of-order events in their own minute and fires when the watermark passes the end', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 61_000));
    w.add(counted(T0 + 59_000, 'v', 'b')); // out of order, earlier minute
    w.add(counted(T0 + 10_000, 'v', 'c'));
    expect(fire(w, T0 + 59_999).windowsFired).toBe(0);
    const fired = fire(w, T0 + 60_000);
    expect(fired.windowsFired).toBe(1);
    expect(fired.views).toEqual([
      { minute: T0, video_id: 'v', channel_id: 'ch1', category: 'music', country: 'DE', device: 'mobile', traffic_source: 'search', views: 2, viewers: [fingerprintOf('v:b'), fingerprintOf('v:c')] },
    ]);
    expect(fired.outcomes).toEqual([{ minute: T0, video_id: 'v', outcome: 'counted', events: 2 }]);
    expect(w.openWindows).toBe(1);
  });

  it('counts a late event as a correction in its own minute at the next firing', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 1_000));
    fire(w, T0 + 120_000);
    const late = counted(T0 + 2_000, 'v', 'z');
    w.add(late);
    expect(late.late).toBe(true);
    expect(w.lateEvents).toBe(1);
    const fired = fire(w, T0 + 120_000);
    expect(fired.views.map((v) => [v.minute, v.views])).toEqual([[T0, 1]]);
  });

  it('records every outcome, counted or not, per minute and video', () => {
    const w = new MinuteWindows();
    const dup = testRecord(testEvent({ ts: T0 + 5_000 }));
    dup.outcome = 'duplicate';
    w.add(dup);
    w.add(counted(T0 + 6_000));
    const fired = fire(w, T0 + 60_000);
    expect(fired.outcomes.map((o) => [o.video_id, o.outcome, o.events]).sort()).toEqual([['v', 'counted', 1], ['vid1', 'duplicate', 1]]);
    expect(fired.views).toHaveLength(1);
  });

  it('restores open windows from their bytes and fires the same rows', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 1_000));
    fire(w, T0 + 30_000);
    const copy = new MinuteWindows();
    copy.read(new BinaryReader(written(w, false)), true);
    copy.add(counted(T0 + 2_000, 'v', 'b'));
    expect(fire(copy, T0 + 60_000).views).toEqual([expect.objectContaining({ views: 2, viewers: [fingerprintOf('v:a'), fingerprintOf('v:b')] })]);
    // the firing before the checkpoint is remembered: an event of an already fired minute is late
    const late = counted(T0 - 60_000, 'v', 'c');
    copy.add(late);
    expect(late.late).toBe(true);
  });

  it('records invalid events under their arrival minute at the very next firing, whatever the watermark', () => {
    const w = new MinuteWindows();
    const bad = testRecord(testEvent({ ts: T0 }), 0, T0 + 5 * 60_000);
    bad.event = null;
    bad.videoHi = 0;
    bad.videoLo = 0;
    bad.outcome = 'invalid';
    w.add(bad);
    const fired = fire(w, Number.NEGATIVE_INFINITY);
    expect(fired.outcomes).toEqual([{ minute: T0 + 5 * 60_000, video_id: '', outcome: 'invalid', events: 1 }]);
    expect(fire(w, Number.NEGATIVE_INFINITY).outcomes).toEqual([]);
  });

  it('aggregates exactly like a plain grouping of the same records, and restores to the same rows (200 random streams)', () => {
    const arbRecord = fc.record({
      second: fc.integer({ min: 0, max: 179 }),
      video: fc.constantFrom('a', 'b', 'ç-vidéo', 'x'.repeat(200)),
      channel: fc.constantFrom('c1', 'c2'),
      category: fc.constantFrom('music', 'news'),
      country: fc.constantFrom('DE', 'US', 'ZZ'),
      device: fc.constantFrom(...DEVICES),
      source: fc.constantFrom(...TRAFFIC_SOURCES),
      viewer: fc.integer({ min: 0, max: 50 }),
      outcome: fc.constantFrom(...OUTCOMES.filter((o) => o !== 'invalid')),
    });
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 300, size: 'max' }), fc.integer({ min: 0, max: 300 }), (items, cut) => {
        const records = items.map((i) => {
          const r = testRecord(testEvent({ ts: T0 + i.second * 1000, video_id: i.video, channel_id: i.channel, category: i.category, country: i.country, device: i.device, traffic_source: i.source, viewer_id: `u${i.viewer}` }));
          r.outcome = i.outcome;
          return r;
        });
        const direct = new MinuteWindows();
        records.forEach((r) => direct.add(r));
        // the same records with a checkpoint and restore in the middle
        const first = new MinuteWindows();
        records.slice(0, cut).forEach((r) => first.add(r));
        const resumed = new MinuteWindows();
        resumed.read(new BinaryReader(written(first, false)), true);
        records.slice(cut).forEach((r) => resumed.add(r));
        const rows = fire(direct, T0 + 10 * 60_000);
        expect(fire(resumed, T0 + 10 * 60_000)).toEqual(rows);
        // against a plain grouping
        const expected = new Map<string, number>();
        for (const i of items) {
          if (i.outcome !== 'counted') continue;
          const k = [Math.floor(i.second / 60), i.video, i.channel, i.category, i.country, i.device, i.source].join('|');
          expected.set(k, (expected.get(k) ?? 0) + 1);
        }
        const got = new Map(rows.views.map((v) => [[(v.minute - T0) / 60_000, v.video_id, v.channel_id, v.category, v.country, v.device, v.traffic_source].join('|'), v.views]));
        expect(got).toEqual(expected);
        for (const v of rows.views) expect(v.viewers.length).toBe(v.views);
        expect(rows.outcomes.reduce((n, o) => n + o.events, 0)).toBe(items.length);
      }),
      { numRuns: 200 },
    );
  });
  it('restores from a snapshot and changes, with windows fired between them, to the same windows (200 random streams)', () => {
    const arbRecord = fc.record({
      second: fc.integer({ min: 0, max: 239 }),
      video: fc.constantFrom('a', 'b', 'ç-vidéo', 'x'.repeat(200), ''),
      country: fc.constantFrom('DE', 'US'),
      device: fc.constantFrom(...DEVICES),
      viewer: fc.integer({ min: 0, max: 20 }),
      outcome: fc.constantFrom(...OUTCOMES),
    });
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 300, size: 'max' }), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 4 }), (items, cutsAt, fireMinutes) => {
        const records = items.map((i) => {
          const r = testRecord(testEvent({ ts: T0 + i.second * 1000, video_id: i.video, country: i.country, device: i.device, viewer_id: `u${i.viewer}` }), 0, T0 + i.second * 1000);
          r.outcome = i.outcome;
          if (i.outcome === 'invalid') r.event = null;
          return r;
        });
        const cuts = [0, ...cutsAt.map((c) => Math.min(c, records.length)).sort((a, b) => a - b), records.length];
        const kept = new MinuteWindows();
        const links: Buffer[] = [];
        for (let k = 0; k < 4; k++) {
          records.slice(cuts[k], cuts[k + 1]).forEach((r) => kept.add(r));
          // between the first two links, windows fire (and invalid events with them): a change no longer holds them
          if (k === 1) fire(kept, T0 + fireMinutes * 60_000);
          if (k < 3) links.push(written(kept, k > 0));
        }
        const resumed = new MinuteWindows();
        links.forEach((link, k) => resumed.read(new BinaryReader(link), k === 0));
        // restored from the three links, it is given what `kept` was given after them
        records.slice(cuts[3]).forEach((r) => resumed.add(r));
        expect(fire(resumed, T0 + 10 * 60_000)).toEqual(fire(kept, T0 + 10 * 60_000));
      }),
      { numRuns: 200 },
    );
  });

  it('writes into a change only what the windows gained since the last link, and counts the views they hold', () => {
    const w = new MinuteWindows();
    for (let i = 0; i < 200; i++) w.add(counted(T0 + 1_000, `video-${i % 50}`, `viewer-${i}`));
    const snapshot = written(w, false);
    expect(written(w, true).length).toBeLessThan(100); // nothing gained: the window, its minute and empty lists
    w.add(counted(T0 + 2_000, 'video-1', 'one-more'));
    const change = written(w, true);
    // one viewer (12 bytes), one moved outcome count (8 bytes), the window and its lists' positions
    expect(change.length).toBeLessThan(snapshot.length / 20);
    const resumed = new MinuteWindows();
    resumed.read(new BinaryReader(snapshot), true);
    resumed.read(new BinaryReader(change), false);
    expect(resumed.countViews().get('video-1')).toBe(5);
    expect([...resumed.countViews().values()].reduce((a, b) => a + b, 0)).toBe(201);
    expect(() => new MinuteWindows().read(new BinaryReader(change), false)).toThrow(/continues one the state before does not hold/);
  });

  it('refuses a link whose view cell points past the string bytes written with it', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 1_000));
    const link = written(w, false);
    // fired-through f64, 1 window, its minute f64, string bytes (from, length, bytes), view cells (from, count, hi, lo, code, strings)
    const arenaLength = link.readUInt32LE(8 + 4 + 8 + 4);
    const stringsAt = 8 + 4 + 8 + 4 + 4 + arenaLength + 4 + 4 + 3 * 4;
    expect(link.readUInt32LE(stringsAt)).toBe(2); // after the outcome cell's video id: "v", 2 bytes
    link.writeUInt32LE(arenaLength, stringsAt);
    expect(() => new MinuteWindows().read(new BinaryReader(link), true)).toThrow(/strings start at byte \d+, past its \d+/);
  });
});
