/**
 * Copies of checkpoints a newer snapshot made obsolete are deleted, and only those: every
 * partition keeps the chain reconcile restores it from, whatever else is pruned beside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, queryRows, type TestDatabase } from '../clickhouse/test-database.ts';
import { uniqueName } from '../test/harness.ts';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { checkpointCopy, latestCheckpointCopy } from './checkpoint-copies.ts';
import { CopyPruner } from './checkpoint-copy-pruner.ts';

const NO_ROWS = Buffer.alloc(0);

describe('pruning checkpoint copies', () => {
  let db: TestDatabase;
  const topic = 'views';
  let clock = 0;
  const errors: string[] = [];
  let pruner: CopyPruner;
  let sink: ClickHouseSink;

  beforeAll(async () => {
    db = await createTestDatabase('pruned');
    pruner = new CopyPruner(db.client, { cluster: null, intervalMs: 60_000, now: () => clock, onError: (err) => errors.push(err.message) });
    sink = new ClickHouseSink(db.client, undefined, pruner);
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Writes a checkpoint's copy of `partition` at `offset` through the sink, as the committer does. */
  async function copy(group: string, partition: number, offset: number, full: boolean): Promise<void> {
    const pending = { token: `${group}/${topic}/${partition}/${offset}`, views: NO_ROWS, outcomes: NO_ROWS, rejected: NO_ROWS };
    const state = { full, bytes: Buffer.from(`${full ? 'snapshot' : 'change'} ${partition}@${offset}`) };
    await sink.write(pending, checkpointCopy(group, topic, partition, { offset, state, pending }));
  }

  async function offsets(group: string, partition: number): Promise<number[]> {
    const rows = await queryRows<{ offset: string }>(
      db.client,
      'SELECT offset FROM job_checkpoints WHERE group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32} ORDER BY offset',
      { group, topic, partition },
    );
    return rows.map((r) => Number(r.offset));
  }

  async function deletes(): Promise<number> {
    const rows = await queryRows<{ n: string }>(db.client, `SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND table = 'job_checkpoints'`, { db: db.database });
    return Number(rows[0].n);
  }

  async function chain(group: string, partition: number): Promise<string[]> {
    return ((await latestCheckpointCopy(db.client, group, topic, partition))?.chain ?? []).map(String);
  }

  it('keeps no TTL on the copies: an idle partition keeps its only chain however long it idles', async () => {
    const [row] = await queryRows<{ q: string }>(db.client, `SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = 'job_checkpoints'`, { db: db.database });
    expect(row.q).toContain('ENGINE = MergeTree');
    expect(row.q).not.toMatch(/\bTTL\b/);
  });

  it('a landed snapshot deletes the copies of its partition before it, once per interval for every partition, and nothing a chain needs', async () => {
    const group = uniqueName('pruned');
    const other = uniqueName('pruned-other');
    clock = 1_000_000;
    // partition 1: a chain, a second snapshot at 40 and a change after it; partition 2 and another group: one chain each
    await copy(group, 2, 10, true);
    await copy(group, 2, 20, false);
    await copy(other, 1, 10, true);
    await copy(other, 1, 20, false);
    // (each snapshot above already started a prune of nothing older; the interval now runs)
    await expect.poll(() => deletes()).toBe(1);
    await copy(group, 1, 10, true);
    await copy(group, 1, 20, false);
    await copy(group, 1, 30, false);
    await copy(group, 1, 40, true);
    await copy(group, 1, 50, false);
    // within the interval: nothing is deleted yet
    expect(await deletes()).toBe(1);
    expect(await offsets(group, 1)).toEqual([10, 20, 30, 40, 50]);
    const before = { p1: await chain(group, 1), p2: await chain(group, 2), other: await chain(other, 1) };
    expect(before.p1).toEqual(['snapshot 1@40', 'change 1@50']);

    clock += 60_000;
    await copy(group, 2, 30, true); // the next snapshot after the interval prunes what is due: one statement per group
    await expect.poll(() => offsets(group, 1)).toEqual([40, 50]);
    expect(await offsets(group, 2)).toEqual([30]);
    await expect.poll(() => deletes()).toBe(3);
    expect(await offsets(other, 1)).toEqual([10, 20]);
    expect(await chain(group, 1)).toEqual(before.p1);
    expect(await chain(group, 2)).toEqual(['snapshot 2@30']);
    expect(await chain(other, 1)).toEqual(before.other);
    expect(errors).toEqual([]);
  });

  it('a prune that fails keeps its partitions due: the next one deletes their copies too', async () => {
    const group = uniqueName('pruned-retry');
    clock += 120_000;
    await copy(group, 3, 10, true);
    await expect.poll(() => deletes()).toBe(4);
    await copy(group, 3, 20, true);
    await copy(group, 4, 10, true);
    await db.client.command({ query: 'RENAME TABLE job_checkpoints TO job_checkpoints_away' });
    try {
      clock += 60_000;
      await pruner.prune();
      throw new Error('the prune of a missing table succeeded');
    } catch (err) {
      expect((err as Error).message).toMatch(/job_checkpoints/);
    } finally {
      await db.client.command({ query: 'RENAME TABLE job_checkpoints_away TO job_checkpoints' });
    }
    expect(await offsets(group, 3)).toEqual([10, 20]);
    clock += 60_000;
    await copy(group, 4, 20, true);
    await expect.poll(() => offsets(group, 3)).toEqual([20]);
    await expect.poll(() => offsets(group, 4)).toEqual([20]);
    expect(errors).toEqual([]);
  });
});
