import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { StallWatch } from './stall-watch.ts';

/** A watch over partitions whose checkpoint offsets and ends the test sets, on a clock the test moves. */
function setup() {
  const clock = { now: 0 };
  const positions = new Map<number, number | null>();
  const ends = new Map<number, number>();
  const lines: { level: number; msg: string; partition?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const watch = new StallWatch({ checkpoints: 3, checkpointIntervalMs: 1_000, now: () => clock.now, positions: () => positions, ends: async () => new Map(ends), log });
  /** Moves the clock one checkpoint interval and samples, as the watch's timer does. */
  const tick = async () => {
    clock.now += 1_000;
    await watch.refresh();
  };
  return { watch, positions, ends, tick, lines };
}

describe('StallWatch', () => {
  it('calls a partition stalled once its checkpoint has not moved for N intervals while events wait, and clears it when it moves', async () => {
    const { watch, positions, ends, tick, lines } = setup();
    positions.set(0, 100).set(1, 100);
    ends.set(0, 500).set(1, 900);
    await watch.refresh();
    positions.set(1, 200); // partition 1 advances every interval; partition 0 is stuck
    await tick();
    positions.set(1, 300);
    await tick();
    expect(watch.stalled()).toEqual(new Map([[0, false], [1, false]]));
    positions.set(1, 400);
    await tick();
    expect(watch.stalled()).toEqual(new Map([[0, true], [1, false]]));
    expect(watch.any()).toBe(true);
    expect(lines.filter((l) => l.level === 50).map((l) => l.partition)).toEqual([0]);
    positions.set(0, 101);
    await tick();
    expect(watch.stalled().get(0)).toBe(false);
    expect(watch.any()).toBe(false);
    expect(lines.at(-1)?.msg).toBe('partition advances again');
  });

  it('calls a partition stalled that stays unclaimed while events wait', async () => {
    const { watch, positions, ends, tick } = setup();
    positions.set(0, 100);
    ends.set(0, 500);
    await watch.refresh();
    positions.set(0, null); // lost in a rebalance, assigned again, not claimed since
    for (let i = 0; i < 3; i++) await tick();
    expect(watch.stalled()).toEqual(new Map([[0, true]]));
    positions.set(1, null); // newly assigned, empty
    ends.set(1, 0);
    for (let i = 0; i < 3; i++) await tick();
    expect(watch.stalled().get(1)).toBe(false);
  });

  it('never calls a partition stalled that has nothing to do (no lag), however long it waits', async () => {
    const { watch, positions, ends, tick } = setup();
    positions.set(0, 500);
    ends.set(0, 500);
    for (let i = 0; i < 10; i++) await tick();
    expect(watch.any()).toBe(false);
  });

  it('keeps the last ends while the broker does not answer, and forgets partitions this worker no longer owns', async () => {
    const clock = { now: 0 };
    const positions = new Map<number, number | null>([[0, 10]]);
    let answer = true;
    const watch = new StallWatch({
      checkpoints: 2,
      checkpointIntervalMs: 1_000,
      now: () => clock.now,
      positions: () => positions,
      ends: async () => {
        if (!answer) throw new Error('broker away');
        return new Map([[0, 50]]);
      },
      log: pino({ level: 'silent' }),
    });
    await watch.refresh();
    answer = false;
    clock.now += 2_000;
    await watch.refresh();
    expect(watch.stalled()).toEqual(new Map([[0, true]]));
    positions.clear();
    expect(watch.stalled()).toEqual(new Map());
  });
});
