import { describe, expect, it } from 'vitest';
import { decodeBlock, encodeBlock, type ClickHouseBlock } from './clickhouse-block.ts';

const block = (token: string): ClickHouseBlock => ({
  token,
  views: Buffer.from([1, 2, 3, 4, 5]),
  outcomes: Buffer.alloc(300, 7),
  rejected: Buffer.alloc(0),
});

describe('a ClickHouse block as one byte string', () => {
  it('is encoded once, however many writes carry it (the Redis commit and each retry, the ClickHouse copy)', () => {
    const b = block('g/t/0/100-200/3.7');
    const first = encodeBlock(b);
    expect(encodeBlock(b)).toBe(first);
    expect(decodeBlock(first)).toEqual(b);
    // Another block with the same content is its own encoding.
    expect(encodeBlock(block('g/t/0/100-200/3.7'))).not.toBe(first);
  });

  it('holds exactly its bytes, whatever the token is made of (up to 3 UTF-8 bytes per character)', () => {
    for (const token of ['', 'g/t/0/0-1/1.1', 'gruppe-ü/topic-€/3/0-9/1.2', '群組'.repeat(100) + '/t/1/5-8/2.3']) {
      const b = block(token);
      const bytes = encodeBlock(b);
      const tokenBytes = Buffer.byteLength(token);
      const lengthBytes = tokenBytes < 0x80 ? 1 : 2;
      expect(bytes.length).toBe(lengthBytes + tokenBytes + 1 + 3 * 4 + 5 + 300);
      expect(decodeBlock(bytes)).toEqual(b);
    }
  });
});
