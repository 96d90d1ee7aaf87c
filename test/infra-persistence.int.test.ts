/**
 * The supervisor on a folder and ports of its own (so the shared infra is not
 * touched): up, write, down with no process left behind, up again, the data is
 * still there (Redis AOF, chDB data dir, Kafka log), down.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../infra/free-port.ts';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { infraDown, infraStatus, infraUpDetailed, readInfraAddresses } from '../infra/services.ts';
import type { InfraOptions } from '../infra/infra-paths.ts';
import { isAlive } from '../infra/processes.ts';


const root = mkdtempSync(join(tmpdir(), 'vt-infra-persist-'));
let opts: InfraOptions;

afterAll(async () => {
  if (opts) await infraDown(opts).catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

describe('infra persistence across down/up', () => {
  it('keeps Redis, ClickHouse and Kafka data and leaves no process behind', async () => {
    opts = {
      root,
      timeoutMs: 150_000,
      ports: { kafka: await freePort(), kafkaController: await freePort(), redis: await freePort(), clickhouse: await freePort() },
    };
    expect(() => readInfraAddresses({ root })).toThrow(/viewtally infra up/);

    const first = await infraUpDetailed(opts);
    expect(first.started.sort()).toEqual(['clickhouse', 'kafka', 'redis']);
    const a = first.addresses;
    expect(readInfraAddresses({ root })).toEqual(a);
    expect(a.redis.url).toBe(`redis://127.0.0.1:${opts.ports!.redis}`);

    // idempotent: a second up starts nothing
    expect((await infraUpDetailed(opts)).started).toEqual([]);

    const status = await infraStatus(opts);
    expect(status.every((s) => s.running && s.ok && s.pid !== null)).toBe(true);
    const pids = status.map((s) => s.pid!);
    for (const s of status) expect(readFileSync(join(root, 'run', `${s.service}.pid`), 'utf8').trim()).toBe(String(s.pid));

    const redis = new Redis(a.redis.url);
    await redis.set('vt:persist', 'hello');
    await redis.incrby('vt:views:v1', 41);
    redis.disconnect();

    const ch = createClickHouseClient(a.clickhouse.url);
    await ch.command({ query: 'CREATE TABLE p (id UInt32, s String) ENGINE = MergeTree ORDER BY id' });
    await ch.insert({ table: 'p', format: 'JSONEachRow', values: [{ id: 1, s: 'kept' }] });
    await ch.close();

    const kafka = new Kafka({ clientId: 'persist', brokers: a.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'persist', numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: 'persist', acks: -1, messages: [{ key: 'k', value: 'kept' }] });
    await producer.disconnect();
    await admin.disconnect();

    await infraDown(opts);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    const down = await infraStatus(opts);
    expect(down.every((s) => !s.running && !s.ok && s.pid === null)).toBe(true);
    expect(existsSync(join(root, 'infra.json'))).toBe(false);
    expect(() => readInfraAddresses({ root })).toThrow(/viewtally infra up/);

    const second = await infraUpDetailed(opts);
    expect(second.started.sort()).toEqual(['clickhouse', 'kafka', 'redis']);

    const redis2 = new Redis(second.addresses.redis.url);
    expect(await redis2.get('vt:persist')).toBe('hello');
    expect(await redis2.get('vt:views:v1')).toBe('41');
    redis2.disconnect();

    const ch2 = createClickHouseClient(second.addresses.clickhouse.url);
    expect(await (await ch2.query({ query: 'SELECT id, s FROM p', format: 'JSONEachRow' })).json()).toEqual([{ id: 1, s: 'kept' }]);
    await ch2.close();

    const kafka2 = new Kafka({ clientId: 'persist2', brokers: second.addresses.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin2 = kafka2.admin();
    await admin2.connect();
    const offsets = await admin2.fetchTopicOffsets('persist');
    expect(offsets.map((o) => o.high)).toEqual(['1']);
    await admin2.disconnect();

    const pids2 = (await infraStatus(opts)).map((s) => s.pid!);
    await infraDown(opts);
    for (const pid of pids2) expect(isAlive(pid)).toBe(false);
  });
});
