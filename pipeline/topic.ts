import type { Admin } from 'kafkajs';

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
