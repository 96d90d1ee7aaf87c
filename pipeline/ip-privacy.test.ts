import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IpHasher } from './ip-privacy.ts';

const DAY = 86_400_000;
const T = Date.UTC(2026, 11, 3, 12);

/** The hash as the rejected_views table documents it, computed from scratch: HMAC-SHA256 under the day's salt, 32 hex digits. */
function expected(secret: string, ip: string, ts: number): string {
  const salt = createHmac('sha256', secret).update(String(Math.floor(ts / DAY))).digest();
  return createHmac('sha256', salt).update(ip).digest('hex').slice(0, 32);
}

describe('IpHasher.hash', () => {
  it('is the HMAC of the address under its day’s salt, the same when asked again, another on another day', () => {
    const hasher = new IpHasher('s3cret');
    const first = hasher.hash('203.0.113.7', T);
    expect(first).toBe(expected('s3cret', '203.0.113.7', T));
    expect(hasher.hash('203.0.113.7', T + 1000)).toBe(first);
    const nextDay = hasher.hash('203.0.113.7', T + DAY);
    expect(nextDay).toBe(expected('s3cret', '203.0.113.7', T + DAY));
    expect(nextDay).not.toBe(first);
    expect(hasher.hash('203.0.113.7', T)).toBe(first);
    expect(new IpHasher('other').hash('203.0.113.7', T)).not.toBe(first);
  });

  it('stays exact past the hashes it remembers, on days that alternate', () => {
    const hasher = new IpHasher('s3cret');
    for (let i = 0; i < 40_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const ts = T + (i % 3) * DAY;
      const h = hasher.hash(ip, ts);
      if (i % 997 === 0) expect(h).toBe(expected('s3cret', ip, ts));
    }
    expect(hasher.hash('10.0.0.0', T)).toBe(expected('s3cret', '10.0.0.0', T));
  });
});
