import { describe, expect, it } from 'vitest';
import { ephemeralLow, freePort } from './free-port.ts';
import { portFree } from './processes.ts';

describe('freePort', () => {
  it('gives ports below the kernel ephemeral range that can be bound', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort(9);
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port + 9).toBeLessThan(ephemeralLow());
      expect(await portFree(port)).toBe(true);
    }
  });
});
