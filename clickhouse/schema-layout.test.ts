import { describe, expect, it } from 'vitest';
import { insertRouting, parseDistributedEngine } from './schema-layout.ts';

describe('schema layout', () => {
  it('reads the cluster and database of a Distributed table, and nothing of other engines', () => {
    expect(parseDistributedEngine(`Distributed('vt', 'viewtally', 'views_minute_in_local', cityHash64(video_id))`)).toEqual({ cluster: 'vt', database: 'viewtally' });
    expect(parseDistributedEngine('Null')).toBeNull();
    expect(parseDistributedEngine(`AggregatingMergeTree PARTITION BY toYYYYMMDD(minute) ORDER BY (channel_id, video_id)`)).toBeNull();
  });

  it('sends every block of a partition to one shard, partitions spread over the shards, on a quorum', () => {
    const route = insertRouting({ cluster: 'vt', database: 'viewtally', shards: 3 });
    expect([0, 1, 2, 3, 4, 5, 6].map((p) => route(p).insert_shard_id)).toEqual(['1', '2', '3', '1', '2', '3', '1']);
    expect(route(7)).toEqual(route(7));
    expect(route(0).insert_quorum).toBe('auto');
  });

  it('adds no settings on a single server', () => {
    expect(insertRouting(null)(5)).toEqual({});
  });
});
