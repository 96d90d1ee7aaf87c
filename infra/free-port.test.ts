import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralLow, freePort } from './free-port.ts';

describe('freePort', () => {
  it('gives ports below the kernel ephemeral range that can be bound', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort(9);
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port + 9).toBeLessThan(ephemeralLow());
      await new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
      });
    }
  });
});
