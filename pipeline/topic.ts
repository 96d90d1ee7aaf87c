import type { Admin } from 'kafkajs';

/** Most replicas a topic gets: three copies survive one broker lost while a second one restarts. */
const MAX_REPLICATION = 3;

/**
 * Creates the topic with `partitions` partitions when missing — replicated on up to three brokers,
 * with writes acknowledged (acks=all) once all but one of them have it — and returns its actual
 * partition count.
 */
export async function ensureTopic(admin: Admin, topic: string, partitions: number): Promise<number> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    const replicationFactor = Math.min(MAX_REPLICATION, (await admin.describeCluster()).brokers.length);
    const configEntries = [{ name: 'min.insync.replicas', value: String(Math.max(1, replicationFactor - 1)) }];
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries }], waitForLeaders: true }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
  }
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0].partitions.length;
}
