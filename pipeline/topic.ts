import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin } from 'kafkajs';
import { DEAD_LETTER_MAX_MESSAGE_BYTES, deadLetterTopic } from '../sinks/dead-letter-sink.ts';

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
 * Creates the topic with `partitions` partitions (and `configs`, e.g. `max.message.bytes`) when
 * missing — replicated on up to three brokers, with writes acknowledged (acks=all) once all but one
 * of them have it — and returns its actual partition count.
 */
export async function ensureTopic(admin: Admin, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<number> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    const replicationFactor = Math.min(MAX_REPLICATION, (await admin.describeCluster()).brokers.length);
    const configEntries = [{ name: 'min.insync.replicas', value: String(Math.max(1, replicationFactor - 1)) }, ...Object.entries(configs).map(([name, value]) => ({ name, value }))];
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries }], waitForLeaders: false }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
  }
  return partitionsWithLeaders(admin, topic);
}

/** A topic's configuration value as the broker applies it (its own, else the broker's default). */
export async function topicConfig(admin: Admin, topic: string, name: string): Promise<string> {
  // Node's ESM view of kafkajs names only its first few exports; the rest are on the default export.
  const { ConfigResourceTypes } = kafkajs;
  const { resources } = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }], includeSynonyms: false });
  const value = resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
  if (value === undefined || value === null) throw new Error(`topic ${topic} has no ${name}`);
  return value;
}

/**
 * Creates the dead-letter topic of `topic` with an explicit `max.message.bytes` when missing, and
 * returns the `max.message.bytes` it has (one created before may differ): dead letters are sized to it.
 */
export async function ensureDeadLetterTopic(admin: Admin, topic: string, partitions: number): Promise<number> {
  const name = deadLetterTopic(topic);
  await ensureTopic(admin, name, partitions, { 'max.message.bytes': String(DEAD_LETTER_MAX_MESSAGE_BYTES) });
  return Number(await topicConfig(admin, name, 'max.message.bytes'));
}
