import { describe, expect, it } from 'vitest';
import { MinuteWindows } from './tumbling-window.ts';
import { testEvent, testRecord } from './test-records.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const counted = (ts: number, video = 'v', viewer = 'a') => {
  const r = testRecord(testEvent({ ts, video_id: video, viewer_id: viewer }));
  r.outcome = 'counted';
  return r;
};

describe('MinuteWindows', () => {
  it('keeps out-of-order events in their own minute and fires when the watermark passes the end', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 61_000));
    w.add(counted(T0 + 59_000, 'v', 'b')); // out of order, earlier minute
    w.add(counted(T0 + 10_000, 'v', 'c'));
    expect(w.fire(T0 + 59_999).windowsFired).toBe(0);
    const fired = w.fire(T0 + 60_000);
    expect(fired.windowsFired).toBe(1);
    expect(fired.views).toEqual([expect.objectContaining({ minute: T0, video_id: 'v', views: 2, viewers: ['b', 'c'].map((v) => `v:${v}`) })]);
    expect(fired.outcomes).toEqual([{ minute: T0, video_id: 'v', outcome: 'counted', events: 2 }]);
    expect(w.openWindows).toBe(1);
  });

  it('counts a late event as a correction in its own minute at the next firing', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 1_000));
    w.fire(T0 + 120_000);
    const late = counted(T0 + 2_000, 'v', 'z');
    w.add(late);
    expect(late.late).toBe(true);
    expect(w.lateEvents).toBe(1);
    const fired = w.fire(T0 + 120_000);
    expect(fired.views.map((v) => [v.minute, v.views])).toEqual([[T0, 1]]);
  });

  it('records every outcome, counted or not, per minute and video', () => {
    const w = new MinuteWindows();
    const dup = testRecord(testEvent({ ts: T0 + 5_000 }));
    dup.outcome = 'duplicate';
    w.add(dup);
    w.add(counted(T0 + 6_000));
    const fired = w.fire(T0 + 60_000);
    expect(fired.outcomes.map((o) => [o.outcome, o.events]).sort()).toEqual([['counted', 1], ['duplicate', 1]]);
    expect(fired.views).toHaveLength(1);
  });

  it('restores open windows from a snapshot and fires the same rows', () => {
    const w = new MinuteWindows();
    w.add(counted(T0 + 1_000));
    w.fire(T0 + 30_000);
    const copy = new MinuteWindows();
    copy.restore(JSON.parse(JSON.stringify(w.snapshot())));
    copy.add(counted(T0 + 2_000, 'v', 'b'));
    expect(copy.fire(T0 + 60_000).views[0].views).toBe(2);
  });

  it('records invalid events under their arrival minute at the very next firing, whatever the watermark', () => {
    const w = new MinuteWindows();
    const bad = testRecord(testEvent({ ts: T0 }), 0, T0 + 5 * 60_000);
    bad.event = null;
    bad.outcome = 'invalid';
    w.add(bad);
    const fired = w.fire(Number.NEGATIVE_INFINITY);
    expect(fired.outcomes).toEqual([{ minute: T0 + 5 * 60_000, video_id: '', outcome: 'invalid', events: 1 }]);
    expect(w.fire(Number.NEGATIVE_INFINITY).outcomes).toEqual([]);
  });
});
