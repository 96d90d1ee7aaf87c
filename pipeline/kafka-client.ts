import { Kafka, logLevel } from 'kafkajs';

/**
 * Retries of every broker call: long enough (~40 s in all) to ride out a broker lost on a cluster
 * until the controller moves its partitions' leadership (the broker session timeout, 9 s by
 * default, plus a metadata refresh), where kafkajs's default (~9 s) gives up just before.
 */
const RETRY = { initialRetryTime: 300, maxRetryTime: 10_000, retries: 8 };

/** A Kafka client of the job's commands, named so that `viewtally status` and broker logs tell who it is. */
export function createKafka(clientId: string, brokers: string[]): Kafka {
  return new Kafka({ clientId, brokers, retry: RETRY, logLevel: logLevel.NOTHING });
}
