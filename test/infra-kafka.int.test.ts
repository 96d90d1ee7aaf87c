/**
 * kafkajs 2.2.4 against the local Kafka 3.9.1 broker (KRaft) that infra/ starts:
 * topic admin, produce, a consumer group sharing partitions, committed offsets
 * that a restarted member resumes from, and transactional (idempotent) produce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Consumer, type EachMessagePayload } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { readInfraAddresses } from '../infra/services.ts';

const brokers = () => readInfraAddresses().kafka.brokers;
const kafka = () => new Kafka({ clientId: 'infra-kafka-test', brokers: brokers(), logLevel: logLevel.NOTHING });

const topic = `infra-test-${randomUUID()}`;
const txTopic = `infra-tx-${randomUUID()}`;

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('kafkajs ↔ local Kafka 3.9', () => {
  const admin = kafka().admin();
  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }, { topic: txTopic, numPartitions: 2 }], waitForLeaders: true });
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic, txTopic] }).catch(() => {});
    await admin.disconnect();
  });

  it('broker is a single KRaft node with the configured defaults', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0].partitions).toHaveLength(4); // num.partitions=4
    const cfg = await admin.describeConfigs({ resources: [{ type: 4 /* BROKER */, name: '1', configNames: ['auto.create.topics.enable'] }], includeSynonyms: false });
    expect(cfg.resources[0].configEntries[0].configValue).toBe('false');
  });

  it('produces, consumes in a group, commits offsets and resumes after a restart', async () => {
    const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    const n = 200;
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => ({ key: `k${i % 17}`, value: JSON.stringify({ i }) })),
    });

    const group = `g-${randomUUID()}`;
    const seen = new Map<string, number>(); // value → times seen
    const byMember: Record<string, Set<number>> = { a: new Set(), b: new Set() };
    const mk = (): Consumer => kafka().consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 250 });
    const a = mk();
    const b = mk();
    const run = async (c: Consumer, name: 'a' | 'b') => {
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }: EachMessagePayload) => {
          const v = message.value!.toString();
          seen.set(v, (seen.get(v) ?? 0) + 1);
          byMember[name].add(partition);
        },
      });
    };
    await run(a, 'a');
    await run(b, 'b');
    await waitUntil(() => seen.size === n, 60_000, 'all messages consumed by the group');
    expect([...seen.values()].every((c) => c >= 1)).toBe(true);
    await a.disconnect();
    await b.disconnect();

    // offsets committed on the way out cover the whole topic
    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const total = committed[0].partitions.reduce((s, p) => s + Number(p.offset), 0);
    expect(total).toBe(n);
    for (const p of committed[0].partitions) {
      expect(p.offset).toBe(ends.find((e) => e.partition === p.partition)!.offset);
    }

    // a restarted member gets only what arrived after the commit
    await producer.send({ topic, acks: -1, messages: [{ key: 'late', value: JSON.stringify({ i: 'late' }) }] });
    const again: string[] = [];
    const c = kafka().consumer({ groupId: group, maxWaitTimeInMs: 250 });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void again.push(message.value!.toString()) });
    await waitUntil(() => again.length >= 1, 30_000, 'the late message');
    await new Promise((r) => setTimeout(r, 500));
    expect(again).toEqual([JSON.stringify({ i: 'late' })]);
    await c.disconnect();
    await producer.disconnect();
  });

  it('commits and aborts transactions; read_committed consumers see only committed data', async () => {
    const producer = kafka().producer({ transactionalId: `tx-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const ok = await producer.transaction();
    await ok.send({ topic: txTopic, messages: [{ key: 'a', value: 'committed-1' }, { key: 'b', value: 'committed-2' }] });
    await ok.commit();
    const bad = await producer.transaction();
    await bad.send({ topic: txTopic, messages: [{ key: 'a', value: 'aborted' }] });
    await bad.abort();
    await producer.disconnect();

    const got: string[] = [];
    const c = kafka().consumer({ groupId: `gtx-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 250 });
    await c.connect();
    await c.subscribe({ topic: txTopic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await waitUntil(() => got.length >= 2, 30_000, 'committed transactional messages');
    await new Promise((r) => setTimeout(r, 500));
    await c.disconnect();
    expect(got.sort()).toEqual(['committed-1', 'committed-2']);
  });
});
