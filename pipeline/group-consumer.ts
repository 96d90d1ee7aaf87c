import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs';
import type { JobConfig } from './config.ts';
import { classifyKafkaError } from '../sinks/kafka-errors.ts';

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

/** What kafkajs calls non-retriable though a broker restart causes it: the consumer is run again. */
const BROKER_GONE = new Set(['KafkaJSGroupCoordinatorNotFound']);
/** How long such failures may go on, with no group joined between them, before they end the stage. */
const GIVE_UP_MS = 5 * 60_000;

/**
 * Runs `consumer` and keeps it running until `signal` aborts: kafkajs restarts it after failures it
 * calls retriable; this runs it again, a second later, after one a broker restart causes (no group
 * coordinator found while the broker that holds it is down), and again while such a run cannot
 * reach the broker yet, for up to GIVE_UP_MS without a group joined. Any other failure, one that
 * lasts longer, or a first start that fails goes to `onFatal`.
 */
export function runKept(consumer: Consumer, config: ConsumerRunConfig, signal: AbortSignal, onFatal: (err: Error) => void): void {
  let failingSince = 0;
  const again = () =>
    setTimeout(() => {
      if (!signal.aborted) start(true);
    }, 1_000);
  const start = (restart: boolean) => {
    consumer
      .connect()
      .then(() => consumer.run(config))
      .catch((err: Error) => {
        if (restart && !signal.aborted && classifyKafkaError(err) === 'retriable' && Date.now() - failingSince <= GIVE_UP_MS) again();
        else onFatal(err);
      });
  };
  consumer.on(consumer.events.GROUP_JOIN, () => (failingSince = 0));
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart || signal.aborted) return;
    const err = e.payload.error;
    if (failingSince === 0) failingSince = Date.now();
    if (!causes(err).some((c) => BROKER_GONE.has(c.name)) || Date.now() - failingSince > GIVE_UP_MS) return onFatal(err);
    again();
  });
  start(false);
}

/** An error and its causes, outermost first. */
function causes(err: Error): Error[] {
  const chain: Error[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < 10; e = (e as Error & { cause?: unknown }).cause) chain.push(e);
  return chain;
}
