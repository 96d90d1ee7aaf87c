import type { Admin } from 'kafkajs';
import { addressVerdictsTopic, byAddressTopic } from '../schemas/address-messages.ts';
import { deadLetterTopic } from '../sinks/dead-letter-sink.ts';

/** Creates the topic with `partitions` partitions when missing; returns its actual partition count. */
export async function ensureTopic(admin: Admin, topic: string, partitions: number): Promise<number> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
  }
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0].partitions.length;
}

/**
 * The job's topics: the source (created with `partitions` when missing), its dead letters and its
 * by-address records (as many partitions as the source, unless they exist already), and the
 * address verdicts (one partition: every counting partition reads all of them).
 */
export async function ensureJobTopics(admin: Admin, topic: string, partitions: number): Promise<{ partitionCount: number; addressPartitions: number }> {
  const partitionCount = await ensureTopic(admin, topic, partitions);
  await ensureTopic(admin, deadLetterTopic(topic), partitionCount);
  const addressPartitions = await ensureTopic(admin, byAddressTopic(topic), partitionCount);
  await ensureTopic(admin, addressVerdictsTopic(topic), 1);
  return { partitionCount, addressPartitions };
}
