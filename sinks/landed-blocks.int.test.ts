import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import pino from 'pino';
import { createTestDatabase, queryRows, type TestDatabase } from '../clickhouse/test-database.ts';
import { redis, uniqueName } from '../test/harness.ts';
import { Committer } from '../pipeline/committer.ts';
import { createJobMetrics } from '../pipeline/metrics.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { writeOutcomeRow, writeRejectedRow, writeViewsRow } from '../schemas/clickhouse-rows.ts';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { RedisSink, type CheckpointWrite } from './redis-sink.ts';
import { progressKey } from './live-counters.ts';
import type { RedisClient } from './redis-client.ts';
import { checkpointCopy, latestCheckpointCopy } from './checkpoint-copies.ts';
import { landedTables, unlandedPart } from './landed-blocks.ts';
import type { AddressRecordSink } from './address-record-sink.ts';
import type { DeadLetterSink } from './dead-letter-sink.ts';
import type { ClickHouseBlock } from './clickhouse-block.ts';

// Each table remembers this many insert tokens here (10 000 in the migrations): a few newer
// blocks push a block out of that memory, as hundreds of partitions do in minutes in production.
const WINDOW = 3;
const MINUTE = 60_000;
const DEDUPLICATING_TABLES = ['views_minute', 'views_hour', 'views_day', 'view_outcomes_minute', 'rejected_views', 'job_checkpoints', 'landed_blocks'];

describe('recovery of a pending block knows whether it landed', () => {
  let db: TestDatabase;
  let rd: RedisClient;
  let redisSink: RedisSink;
  let sink: ClickHouseSink;
  let committer: Committer;
  const group = uniqueName('landed');
  const topic = 'views';
  const minute = Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE - 2 * 60 * MINUTE;

  /** A block of `views` views of one video, with their outcomes and one rejected event. */
  function block(partition: number, from: number, video: string, views: number): ClickHouseBlock {
    const rows = (write: (w: BinaryWriter) => void) => {
      const w = new BinaryWriter();
      write(w);
      return w.copy();
    };
    return {
      token: `${group}/${topic}/${partition}/${from}-${from + 100}/1.${from}`,
      views: rows((w) => writeViewsRow(w, { minute, video_id: video, channel_id: 'ch', category: 'music', country: 'DE', device: 'mobile', traffic_source: 'search', views, viewers: [7n] })),
      outcomes: rows((w) => writeOutcomeRow(w, { minute, video_id: video, outcome: 'counted', events: views })),
      rejected: rows((w) => writeRejectedRow(w, { ts: minute, video_id: video, event_id: `${video}-bot-${from}`, score: 0.9, reasons: ['velocity'], ip_hash: 'h', ip_prefix: '10.0.0.0/24', user_agent: 'ua' })),
    };
  }

  /** A checkpoint that recorded the block as pending in Redis, as the committer does before inserting it. */
  async function recordPending(partition: number, b: ClickHouseBlock): Promise<{ key: string; checkpoint: CheckpointWrite }> {
    const key = progressKey(group, topic, partition);
    const { epoch } = await redisSink.claim(key, `${key}:lock`);
    const checkpoint: CheckpointWrite = { offset: 100, state: { full: true, bytes: Buffer.from('state') }, pending: b };
    await redisSink.commit(key, epoch, 100, Buffer.alloc(0), checkpoint);
    return { key, checkpoint };
  }

  async function write(partition: number, b: ClickHouseBlock): Promise<void> {
    const checkpoint: CheckpointWrite = { offset: 100, state: { full: true, bytes: Buffer.from('state') }, pending: b };
    await sink.write(b, checkpointCopy(group, topic, partition, checkpoint));
  }

  /** More newer blocks than each table remembers, of another video. */
  async function pushOutOfMemory(): Promise<void> {
    for (let i = 0; i < WINDOW + 2; i++) await write(9, block(9, 1000 + i * 100, 'other', 1));
  }

  /** A new owner claims the partition and re-inserts its pending block, as Assignment does. */
  async function takeOver(key: string, checkpoint: CheckpointWrite, partition: number): Promise<void> {
    const { epoch } = await redisSink.claim(key, `${key}:lock`);
    await committer.writeBlock(topic, partition, key, epoch, checkpoint, { recovered: true });
  }

  async function totals(video: string) {
    const one = async (sql: string) => Number((await queryRows<{ n: string }>(db.client, sql, { video }))[0].n);
    return {
      minute: await one('SELECT sum(views) AS n FROM views_minute WHERE video_id = {video:String}'),
      hour: await one('SELECT sum(views) AS n FROM views_hour WHERE video_id = {video:String}'),
      day: await one('SELECT sum(views) AS n FROM views_day WHERE video_id = {video:String}'),
      outcomes: await one('SELECT sum(events) AS n FROM view_outcomes_minute WHERE video_id = {video:String}'),
      rejected: await one('SELECT count() AS n FROM rejected_views WHERE video_id = {video:String}'),
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase('landed');
    for (const t of DEDUPLICATING_TABLES) await db.client.command({ query: `ALTER TABLE ${t} MODIFY SETTING non_replicated_deduplication_window = ${WINDOW}` });
    rd = redis();
    redisSink = new RedisSink(rd);
    sink = new ClickHouseSink(db.client);
    const none = () => 0;
    committer = new Committer({
      redis: redisSink,
      clickhouse: sink,
      unlanded: (b) => unlandedPart(db.client, b),
      // writeBlock sends no dead letters and commits no Kafka offsets
      deadLetters: undefined as unknown as DeadLetterSink,
      addressRecords: undefined as unknown as AddressRecordSink,
      consumer: undefined as unknown as Consumer,
      group,
      log: pino({ level: 'silent' }),
      metrics: createJobMetrics({ lag: () => new Map(), watermarkDelayMs: none, checkpointAgeMs: () => new Map(), dedupEntries: none, dedupEvictions: none, botKeys: none, pendingEvents: none, stateMemoryBytes: none, provisionalViews: none, verdictDelayMs: none, addressRecordsSetAside: () => new Map(), stalled: () => new Map() }),
    });
  });

  afterAll(async () => {
    rd?.disconnect();
    await db?.drop();
  });

  it('the tokens alone count a block twice once newer blocks pushed it out of the tables\' memory', async () => {
    const b = block(1, 0, 'forgotten', 7);
    await write(1, b);
    await write(1, b);
    expect(await totals('forgotten')).toEqual({ minute: 7, hour: 7, day: 7, outcomes: 7, rejected: 1 });
    await pushOutOfMemory();
    await write(1, b);
    expect(await totals('forgotten')).toEqual({ minute: 14, hour: 14, day: 14, outcomes: 14, rejected: 2 });
  });

  it('a takeover after more newer blocks than the window re-inserts nothing of a block that landed', async () => {
    const b = block(2, 0, 'landed', 5);
    const { key, checkpoint } = await recordPending(2, b);
    await write(2, b); // the old owner's insert landed; it died before clearing the pending block
    await pushOutOfMemory();
    expect(await landedTables(db.client, b.token)).toEqual(new Set(['views_minute_rows', 'view_outcomes_minute', 'rejected_views']));
    await takeOver(key, checkpoint, 2);
    expect(await totals('landed')).toEqual({ minute: 5, hour: 5, day: 5, outcomes: 5, rejected: 1 });
    expect((await redisSink.inspect(key)).checkpoint?.pending).toBeNull();
  });

  it('a takeover re-inserts only the parts of a block that did not land', async () => {
    const b = block(3, 0, 'partial', 4);
    const { key, checkpoint } = await recordPending(3, b);
    await write(3, { ...b, outcomes: Buffer.alloc(0), rejected: Buffer.alloc(0) }); // the old owner died between the views and the outcomes
    await pushOutOfMemory();
    await takeOver(key, checkpoint, 3);
    expect(await totals('partial')).toEqual({ minute: 4, hour: 4, day: 4, outcomes: 4, rejected: 1 });
  });

  it('a takeover inserts the whole of a block that never landed', async () => {
    const b = block(4, 0, 'never', 3);
    const { key, checkpoint } = await recordPending(4, b);
    await pushOutOfMemory();
    expect(await landedTables(db.client, b.token)).toEqual(new Set());
    await takeOver(key, checkpoint, 4);
    expect(await totals('never')).toEqual({ minute: 3, hour: 3, day: 3, outcomes: 3, rejected: 1 });
  });

  it('keeps the copy of a checkpoint whole: a snapshot of megabytes, sent as it is beside its row, and its block', async () => {
    const b = block(5, 0, 'copied', 2);
    const state = randomBytes(3 * 2 ** 20 + 17);
    await sink.write(b, checkpointCopy(group, topic, 5, { offset: 100, state: { full: true, bytes: state }, pending: b }));
    const copy = await latestCheckpointCopy(db.client, group, topic, 5);
    expect(copy?.offset).toBe(100);
    expect(copy?.chain.length).toBe(1);
    expect(copy?.chain[0].equals(state)).toBe(true);
    expect([copy?.block.token, copy?.block.views.equals(b.views), copy?.block.outcomes.equals(b.outcomes), copy?.block.rejected.equals(b.rejected)]).toEqual([b.token, true, true, true]);
  });

  it('inserts without a token leave no marker', async () => {
    await db.client.insert({ table: 'view_outcomes_minute', values: [{ minute: minute / 1000, video_id: 'untokened', outcome: 'counted', events: 1 }], format: 'JSONEachRow' });
    expect(Number((await queryRows<{ n: string }>(db.client, `SELECT count() AS n FROM landed_blocks WHERE token = ''`))[0].n)).toBe(0);
  });
});
