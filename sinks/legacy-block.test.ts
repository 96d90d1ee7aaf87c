import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { readOutcomeRows, readRejectedRows } from '../schemas/clickhouse-rows.ts';
import { decodeBlock, encodeBlock, pendingPrefix } from './clickhouse-block.ts';

// A block as viewtally 0.1 left it pending in Redis (JSON) and copied it to ClickHouse (gzipped JSON, base64).
const json = {
  token: 'g/t/0/100-200/3.7',
  views: [{ minute: 1_764_504_000_000, video_id: 'v1', channel_id: 'c1', category: 'music', country: 'DE', device: 'mobile', traffic_source: 'search', views: 2, viewers: ['v:a', 's:b'] }],
  outcomes: [{ minute: 1_764_504_000_000, video_id: 'v1', outcome: 'counted', events: 2 }],
  rejected: [{ ts: 1_764_504_001_234, video_id: 'v1', event_id: 'e9', score: 1, reasons: ['ja3'], ip_hash: 'h', ip_prefix: '1.2.3.0/24', user_agent: 'ua' }],
};

describe('a ClickHouse block viewtally 0.1 left pending', () => {
  for (const [where, bytes] of [
    ['in Redis', Buffer.from(JSON.stringify(json))],
    ['in a ClickHouse copy', Buffer.from(gzipSync(JSON.stringify(json)).toString('base64'))],
  ] as const) {
    it(`is read ${where} as rows of 0.1's tables under 0.1's token, so that it lands once`, () => {
      const block = decodeBlock(bytes);
      expect(block.token).toBe(json.token);
      expect(block.viewsTable).toBe('views_minute_in');
      const r = new BinaryReader(block.views);
      expect([r.u32(), r.string(), r.string(), r.string(), r.string(), r.string(), r.string(), r.u64(), r.varUint(), r.string(), r.string(), r.remaining]).toEqual([
        1_764_504_000, 'v1', 'c1', 'music', 'DE', 'mobile', 'search', 2, 2, 'v:a', 's:b', 0,
      ]);
      expect(readOutcomeRows(block.outcomes)).toEqual(json.outcomes);
      expect(readRejectedRows(block.rejected)).toEqual(json.rejected);
      // kept as such in this version's copies, and cleared in Redis by 0.1's prefix
      expect(decodeBlock(encodeBlock(block))).toEqual(block);
      expect(Buffer.from(JSON.stringify(json)).subarray(0, pendingPrefix(block).length).equals(pendingPrefix(block))).toBe(true);
    });
  }
});
