import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Consumer } from 'kafkajs';
import { DEAD_LETTER_MAX_MESSAGE_BYTES, deadLetterTopic } from '../sinks/dead-letter-sink.ts';
import { classifyKafkaError } from '../sinks/kafka-errors.ts';
import { addressVerdictsTopic, byAddressTopic } from '../schemas/address-messages.ts';
import { ViewtallyError } from '../schemas/errors.ts';

/** Most replicas a topic gets: three copies survive one broker lost while a second one restarts. */
const MAX_REPLICATION = 3;
/** How long a new topic may take to be known, with a leader per partition, by the broker asked (or a lost broker to be replaced as leader). */
const METADATA_WAIT_MS = 60_000;
/** What Kafka accepts as a topic name. */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Asks `attempt` until it answers (non-null), while its errors are passing ones: a broker that has
 * not yet heard of a topic created a moment ago (metadata reaches each broker of a cluster a moment
 * after the controller), or a broker lost until its partitions' leadership moves (kafkajs fails a
 * metadata call on a dead broker's connection at once, whatever its retry settings).
 */
async function untilAnswered<T>(topic: string, what: string, attempt: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + METADATA_WAIT_MS;
  for (;;) {
    try {
      const answer = await attempt();
      if (answer !== null) return answer;
    } catch (err) {
      if (classifyKafkaError(err) !== 'retriable' || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic}: ${what} after ${METADATA_WAIT_MS / 1000} s`);
    await sleep(200);
  }
}

/**
 * Subscribes a consumer to a topic, asking again while the broker it asks has not heard of the
 * topic yet: on a cluster, a topic the job has just created reaches each broker a moment apart.
 */
export async function subscribeWhenKnown(consumer: Consumer, topic: string): Promise<void> {
  await untilAnswered(topic, 'unknown to the broker asked', async () => {
    await consumer.subscribe({ topic, fromBeginning: true });
    return true;
  });
}

/** The topic's partition count once every partition has a leader. */
function partitionsWithLeaders(admin: Admin, topic: string): Promise<number> {
  return untilAnswered(topic, 'not every partition has a leader', async () => {
    const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions;
    return partitions.length > 0 && partitions.every((p) => p.leader >= 0) ? partitions.length : null;
  });
}

/**
 * Creates the topic with `partitions` partitions (and `configs`, e.g. `max.message.bytes`) when
 * missing — replicated on up to three brokers, with writes acknowledged (acks=all) once all but one
 * of them have it — and returns its actual partition count.
 */
export async function ensureTopic(admin: Admin, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<number> {
  await untilAnswered(topic, 'not created', async () => {
    if ((await admin.listTopics()).includes(topic)) return true;
    const replicationFactor = Math.min(MAX_REPLICATION, (await admin.describeCluster()).brokers.length);
    const configEntries = [{ name: 'min.insync.replicas', value: String(Math.max(1, replicationFactor - 1)) }, ...Object.entries(configs).map(([name, value]) => ({ name, value }))];
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries }], waitForLeaders: false }).catch((err: Error) => {
      // another worker may have created it first
      if (!/already exists/i.test(err.message)) throw err;
    });
    return true;
  });
  return partitionsWithLeaders(admin, topic);
}

/** A topic's configuration value as the broker applies it (its own, else the broker's default). */
export function topicConfig(admin: Admin, topic: string, name: string): Promise<string> {
  // Node's ESM view of kafkajs names only its first few exports; the rest are on the default export.
  const { ConfigResourceTypes } = kafkajs;
  return untilAnswered(topic, `no ${name}`, async () => {
    const { resources } = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }], includeSynonyms: false });
    return resources[0]?.configEntries.find((e) => e.configName === name)?.configValue ?? null;
  });
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

/** The job's topics as {@link ensureJobTopics} finds them. */
export interface JobTopics {
  /** Partitions of the source topic. */
  partitionCount: number;
  /** The dead-letter topic's `max.message.bytes`. */
  deadLetterBytes: number;
  /** Partitions of the by-address topic. */
  addressPartitions: number;
}

/**
 * The job's topics: the source (created with `partitions` when missing), its dead letters and its
 * by-address records (as many partitions as the source, unless they exist already), and the
 * address verdicts (one partition: every counting partition reads all of them), the last two the
 * group's own.
 */
export async function ensureJobTopics(admin: Admin, topic: string, group: string, partitions: number): Promise<JobTopics> {
  const internal = [byAddressTopic(topic, group), addressVerdictsTopic(topic, group)];
  for (const name of internal) {
    if (!LEGAL_TOPIC.test(name)) {
      throw new ViewtallyError(`the group ${JSON.stringify(group)} cannot name the job's internal topic ${JSON.stringify(name)}: a topic name holds at most 249 letters, digits, '.', '_' and '-'`);
    }
  }
  const partitionCount = await ensureTopic(admin, topic, partitions);
  const deadLetterBytes = await ensureDeadLetterTopic(admin, topic, partitionCount);
  const addressPartitions = await ensureTopic(admin, internal[0], partitionCount);
  await ensureTopic(admin, internal[1], 1);
  return { partitionCount, deadLetterBytes, addressPartitions };
}
