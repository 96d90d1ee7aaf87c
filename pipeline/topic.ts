import kafkajs, { type Admin } from 'kafkajs';
import { DEAD_LETTER_MAX_MESSAGE_BYTES, deadLetterTopic } from '../sinks/dead-letter-sink.ts';

/** Creates the topic with `partitions` partitions (and `configs`, e.g. `max.message.bytes`) when missing; returns its actual partition count. */
export async function ensureTopic(admin: Admin, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<number> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }], waitForLeaders: true }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
  }
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0].partitions.length;
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
