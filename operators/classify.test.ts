import { describe, expect, it } from 'vitest';
import { classifyRecord, type ClassifyState } from './classify.ts';
import { DedupStore } from './dedup-store.ts';
import { PartitionWatermark } from './watermark.ts';
import { defaultJobConfig } from '../pipeline/config.ts';
import { testEvent, testRecord, TEST_FINGERPRINTS } from './test-records.ts';
import type { ViewEvent } from '../schemas/view-event.ts';
import type { BotScorer } from './bot-scorer.ts';

const { view, time } = defaultJobConfig();
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

// A scorer that calls bots exactly the events whose user agent says "evil", so these tests see only the rule order.
let lastAgent = '';
const stubBots = {
  score: (e: ViewEvent) => (lastAgent = e.user_agent) === 'evil',
  verdict: () => ({ bot: lastAgent === 'evil', score: lastAgent === 'evil' ? 1 : 0, reasons: lastAgent === 'evil' ? ['stub'] : [] }),
} as unknown as BotScorer;

function state(): ClassifyState {
  return {
    watermark: new PartitionWatermark(time.outOfOrdernessMs),
    eventIds: new DedupStore({ ttlMs: view.eventIdHorizonMs, maxEntries: 100 }),
    sessions: new DedupStore({ ttlMs: view.sessionWindowMs, maxEntries: 100 }),
    bots: stubBots,
    fingerprints: TEST_FINGERPRINTS,
  };
}

function run(events: Partial<ViewEvent>[], s = state()) {
  return events.map((o, i) => {
    const r = testRecord(testEvent({ event_id: `e${i}`, ts: T0 + i, ...o }), i);
    classifyRecord(r, s, view, time);
    return r.outcome;
  });
}

describe('classify', () => {
  it('counts a view that passes every rule', () => {
    expect(run([{}])).toEqual(['counted']);
  });

  it('marks records that failed decoding invalid', () => {
    const r = testRecord(testEvent());
    r.event = null;
    classifyRecord(r, state(), view, time);
    expect(r.outcome).toBe('invalid');
  });

  it('marks timestamps beyond the skew after arrival invalid, and they do not move the watermark', () => {
    const s = state();
    const r = testRecord(testEvent({ ts: T0 + 10 * MIN }), 0, T0);
    classifyRecord(r, s, view, time);
    expect(r.outcome).toBe('invalid');
    expect(r.error).toMatch(/^ts:/);
    expect(s.watermark.maxEventTs).toBe(Number.NEGATIVE_INFINITY);
  });

  it('never counts heartbeats, polls or loads', () => {
    expect(run([{ event_type: 'heartbeat' }, { event_type: 'poll' }, { event_type: 'load' }])).toEqual(['not_a_view', 'not_a_view', 'not_a_view']);
  });

  it('marks events older than the max lateness too_late, and counts late ones within it', () => {
    const s = state();
    run([{ ts: T0 + 8 * 24 * 60 * MIN }], s);
    expect(run([{ event_id: 'old', ts: T0, viewer_id: 'x' }, { event_id: 'recent', ts: T0 + 2 * 24 * 60 * MIN, viewer_id: 'y' }], s)).toEqual(['too_late', 'counted']);
  });

  it('counts a retried event_id once', () => {
    expect(run([{ event_id: 'same' }, { event_id: 'same', viewer_id: 'other' }])).toEqual(['counted', 'duplicate']);
  });

  it('records owner views as owner', () => {
    expect(run([{ owner_id: 'viewer1', viewer_id: 'viewer1' }])).toEqual(['owner']);
  });

  it('needs 30 s of watch time, or half of a shorter video', () => {
    expect(
      run([
        { watch_ms: 29_999, viewer_id: 'a' },
        { watch_ms: 30_000, viewer_id: 'b' },
        { watch_ms: 10_000, video_duration_ms: 20_000, viewer_id: 'c' },
        { watch_ms: 9_999, video_duration_ms: 20_000, viewer_id: 'd' },
        { watch_ms: 29_999, video_duration_ms: null, viewer_id: 'e' },
      ]),
    ).toEqual(['too_short', 'counted', 'counted', 'too_short', 'too_short']);
  });

  it('leaves bots out', () => {
    expect(run([{ user_agent: 'evil' }])).toEqual(['bot']);
  });

  it('counts one view per viewer and video per 30-minute window, from the last counted view', () => {
    const s = state();
    expect(
      run(
        [
          { ts: T0 },
          { ts: T0 + 29 * MIN }, // refresh within the window
          { ts: T0 + 30 * MIN }, // window over since the last counted view
          { ts: T0 + 31 * MIN, video_id: 'other' }, // another video
          { ts: T0 + 31 * MIN, viewer_id: 'someone-else' },
        ].map((o, i) => ({ ...o, event_id: `s${i}` })),
        s,
      ),
    ).toEqual(['counted', 'duplicate', 'counted', 'counted', 'counted']);
  });

  it('falls back to the session, then to ip + user agent, as the viewer key', () => {
    expect(run([{ viewer_id: null }, { viewer_id: null, ts: T0 + MIN }])).toEqual(['counted', 'duplicate']);
    expect(run([{ viewer_id: null, session_id: '' }, { viewer_id: null, session_id: '', ts: T0 + MIN }])).toEqual(['counted', 'duplicate']);
  });

  it('keys the state by fingerprints of the key strings: event id, viewer key, and `<viewer key>|<video id>`', () => {
    const s = state();
    const r = testRecord(testEvent({ event_id: 'ev-9', viewer_id: 'u|1', video_id: 'vid|2' }));
    r.viewerHi = r.viewerLo = r.videoHi = r.videoLo = 0;
    classifyRecord(r, s, view, time);
    expect(r.outcome).toBe('counted');
    const fp = (k: string): [number, number] => (TEST_FINGERPRINTS.string(k), [TEST_FINGERPRINTS.hi, TEST_FINGERPRINTS.lo]);
    expect([r.videoHi, r.videoLo]).toEqual(fp('vid|2'));
    expect([r.viewerHi, r.viewerLo]).toEqual(fp('v:u|1'));
    expect(s.eventIds.get(...fp('ev-9'), r.event!.ts)).toBe(r.event!.ts);
    expect(s.sessions.get(...fp('v:u|1|vid|2'), r.event!.ts)).toBe(r.event!.ts);
  });

  it('applies the first rule that matches: a retried bot event is a duplicate, a short owner view is owner', () => {
    expect(run([{ event_id: 'x', user_agent: 'evil' }, { event_id: 'x', user_agent: 'evil' }])).toEqual(['bot', 'duplicate']);
    expect(run([{ owner_id: 'viewer1', watch_ms: 1 }])).toEqual(['owner']);
    expect(run([{ event_type: 'poll', ts: T0 + 10 * MIN }].map((o) => o), state())).toEqual(['not_a_view']);
  });
});
