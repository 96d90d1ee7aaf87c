import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs's produce path as patched in patches/kafkajs+*.patch (applied by `npm install`).
const require = createRequire(import.meta.url);
const createSendMessages = require('kafkajs/src/producer/sendMessages');
const createRetry = require('kafkajs/src/retry');

type Produced = { broker: number; partition: number; messages: number };

/**
 * Two brokers, partition 0 led by broker 1 and partition 1 by broker 2. Broker 2's first produce
 * fails as a killed broker's does, and the cluster then reports broker 1 as partition 1's leader:
 * the leader change of a kill -9 where the new leader already answered for its own partitions.
 */
function clusterWithLeaderChange() {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const produced: Produced[] = [];
  let broker2Failures = 1;
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: { topicData: { topic: string; partitions: { partition: number; messages: unknown[] }[] }[] }) => {
      if (nodeId === 2 && broker2Failures-- > 0) {
        leaders[1] = 1;
        throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
      }
      for (const t of topicData) for (const p of t.partitions) produced.push({ broker: nodeId, partition: Number(p.partition), messages: p.messages.length });
      return { topics: topicData.map((t) => ({ topicName: t.topic, partitions: t.partitions.map((p) => ({ partition: Number(p.partition), errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers: Record<number, ReturnType<typeof broker>> = { 1: broker(1), 2: broker(2) };
  const cluster = {
    refreshMetadataIfNecessary: async () => {},
    refreshMetadata: async () => {},
    addMultipleTargetTopics: async () => {},
    isConnected: () => true,
    removeBroker: () => {},
    findTopicPartitionMetadata: () => [0, 1].map((partitionId) => ({ partitionId, leader: leaders[partitionId] })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const byLeader: Record<number, number[]> = {};
      for (const p of partitions) (byLeader[leaders[Number(p)]] ??= []).push(Number(p));
      return byLeader;
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers[nodeId],
  };
  const eosManager = {
    isTransactional: () => false,
    getSequence: () => 0,
    updateSequence: () => {},
    acquireBrokerLock: async () => {},
    releaseBrokerLock: async () => {},
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getTransactionalId: () => undefined,
  };
  const logger = { debug: () => {}, error: () => {}, info: () => {}, warn: () => {} };
  const send = createSendMessages({
    logger,
    cluster,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  return { send, produced };
}

describe('kafkajs produce after a leader change (patched)', () => {
  it('sends a failed broker’s partitions again to their new leader, even one that already answered', async () => {
    const { send, produced } = clusterWithLeaderChange();
    const messages = [0, 1, 0, 1, 1].map((partition, i) => ({ partition, value: `m${i}` }));
    const acks = await send({ acks: -1, timeout: 1_000, topicMessages: [{ topic: 't', messages }] });
    // Unpatched, broker 1 was skipped on the retry because it had answered: partition 1 was never
    // written, and the send still resolved.
    expect(produced).toEqual([
      { broker: 1, partition: 0, messages: 2 },
      { broker: 1, partition: 1, messages: 3 },
    ]);
    expect(acks.map((a: { partition: number }) => a.partition).sort()).toEqual([0, 1]);
  });
});
