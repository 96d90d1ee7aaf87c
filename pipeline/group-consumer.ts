import type { Consumer, Kafka } from 'kafkajs';
import type { JobConfig } from './config.ts';

/**
 * A consumer-group member as every stage of the job runs one: the session timeout of the config,
 * rebalances given twice that, heartbeats a tenth of it, and no restart once `signal` has aborted
 * (kafkajs restarts a crashed consumer later; a job that is stopping must not rejoin the group).
 */
export function groupConsumer(kafka: Kafka, config: JobConfig, groupId: string, signal: AbortSignal, extra: { maxBytesPerPartition?: number; maxWaitTimeInMs?: number } = {}): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: config.sessionTimeoutMs,
    rebalanceTimeout: 2 * config.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
    ...extra,
    retry: { restartOnFailure: async () => !signal.aborted },
  });
}
