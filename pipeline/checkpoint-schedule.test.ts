import { describe, expect, it } from 'vitest';
import { CheckpointSchedule } from './checkpoint-schedule.ts';

const INTERVAL = 5_000;

/** The times at which each writer's checkpoints fall due, ticking every `tick` ms from 0 to `until`. */
function dueTimes(schedule: CheckpointSchedule<object>, writers: { w: object; rank: number }[], until: number, tick = 10): number[][] {
  const times = writers.map(() => [] as number[]);
  for (let t = 0; t <= until; t += tick) writers.forEach(({ w, rank }, i) => schedule.due(w, rank, t) && times[i].push(t));
  return times;
}

describe('CheckpointSchedule', () => {
  it('spreads writers claimed together over the interval, each on a fixed period', () => {
    const writers = Array.from({ length: 5 }, (_, rank) => ({ w: {}, rank }));
    const times = dueTimes(new CheckpointSchedule(INTERVAL), writers, 20_000);
    for (const t of times) {
      expect(t[0]).toBeGreaterThan(0);
      expect(t[0]).toBeLessThanOrEqual(INTERVAL);
      expect(t.slice(1).map((x, i) => x - t[i])).toEqual(t.slice(1).map(() => INTERVAL));
    }
    // rank 0 one interval after the claim, the others in between: no two within 1/8 of the interval
    const phases = times.map((t) => t[0]).sort((a, b) => a - b);
    expect(phases[phases.length - 1]).toBe(INTERVAL);
    for (let i = 1; i < phases.length; i++) expect(phases[i] - phases[i - 1]).toBeGreaterThan(INTERVAL / 8);
  });

  it('a late call skips the slots it missed and keeps the phase', () => {
    const schedule = new CheckpointSchedule<object>(INTERVAL);
    const w = {};
    expect(schedule.due(w, 1, 0)).toBe(false); // first slot at 1 909.8 (1 − 0.618… of the interval)
    expect(schedule.due(w, 1, 1_900)).toBe(false);
    expect(schedule.due(w, 1, 1_910)).toBe(true);
    expect(schedule.due(w, 1, 1_920)).toBe(false);
    // a write that held the writer for three intervals: one checkpoint now, the next on the old phase
    expect(schedule.due(w, 1, 17_000)).toBe(true);
    expect(schedule.due(w, 1, 21_900)).toBe(false);
    expect(schedule.due(w, 1, 21_910)).toBe(true);
  });
});
