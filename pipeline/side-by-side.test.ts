import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.ts';

describe('sideBySide', () => {
  it('starts every call before any has ended', async () => {
    const started: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const all = sideBySide([1, 2, 3], async (n) => {
      started.push(n);
      await gate;
    });
    expect(started).toEqual([1, 2, 3]);
    release();
    await all;
  });

  it('throws the first failure only once every call has ended', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let slowEnded = false;
    let settled = false;
    const all = sideBySide(['fails', 'slow'], async (item) => {
      if (item === 'fails') throw new Error('sink refused');
      await gate;
      slowEnded = true;
    }).finally(() => (settled = true));
    all.catch(() => {});
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    release();
    await expect(all).rejects.toThrow('sink refused');
    expect(slowEnded).toBe(true);
  });
});
