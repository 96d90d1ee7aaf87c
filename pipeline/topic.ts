import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';

/** Most replicas a topic gets: three copies survive one broker lost while a second one restarts. */
const MAX_REPLICATION = 3;
/** How long a new topic may take to be known, with a leader per partition, by the broker asked. */
const METADATA_WAIT_MS = 30_000;

/** The topic's partition count once every partition has a leader; retries while the brokers learn of a new topic. */
async function partitionsWithLeaders(admin: Admin, topic: string): Promise<number> {
  const deadline = Date.now() + METADATA_WAIT_MS;
  for (;;) {
    try {
      const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions;
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return partitions.length;
    } catch (err) {
      // a broker that has not heard of a topic created a moment ago answers UNKNOWN_TOPIC_OR_PARTITION
      const type = (err as { type?: string }).type;
      if ((type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic}: not every partition has a leader after ${METADATA_WAIT_MS / 1000} s`);
    await sleep(200);
  }
}

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
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries }], waitForLeaders: false }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
  }
  return partitionsWithLeaders(admin, topic);
}
