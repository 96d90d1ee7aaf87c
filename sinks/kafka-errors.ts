import { ViewtallyError } from '../schemas/errors.ts';
import { SinkUnavailableError } from './sink-errors.ts';

/**
 * What a failed Kafka produce means for the records it carried: `retriable` (the broker or the
 * network may recover), `record` (the broker refused these records; another split of them, or
 * leaving one out, can succeed), `fatal` (no retry can help: configuration, authorisation, client).
 */
export type KafkaErrorKind = 'retriable' | 'record' | 'fatal';

// Broker refusals that are about the records of the request, not about the broker or the client.
const RECORD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TIMESTAMP']);

interface KafkaJsErrorShape {
  name?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

// kafkajs errors that mean the broker did not answer in time or at all, whatever their `retriable`
// says: kafkajs gave up on its own few retries, or timed out waiting for a lock or a reply.
const OUTAGE_ERRORS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSTimeout', 'KafkaJSLockTimeout', 'KafkaJSRequestTimeoutError', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError']);

/** Classifies a kafkajs error by its protocol type, its name and its `retriable` flag, looking through the causes kafkajs wraps it in. */
export function classifyKafkaError(err: unknown): KafkaErrorKind {
  const chain: KafkaJsErrorShape[] = [];
  for (let e = err; typeof e === 'object' && e !== null && chain.length < 8; e = (e as KafkaJsErrorShape).cause) chain.push(e as KafkaJsErrorShape);
  if (chain.some((e) => e.type !== undefined && RECORD_ERRORS.has(e.type))) return 'record';
  if (chain.some((e) => e.name !== undefined && OUTAGE_ERRORS.has(e.name))) return 'retriable';
  // The innermost flag is the broker's or the client's own verdict; the wrappers only repeat it.
  const flagged = chain.filter((e) => typeof e.retriable === 'boolean').pop();
  if (flagged) return flagged.retriable ? 'retriable' : 'fatal';
  return 'retriable'; // not kafkajs's: a socket or a timer, which the network can fix
}

/**
 * The error to throw for a failed produce of the job's own records to one of its internal topics
 * (by-address records, address verdicts): a retriable one while the broker may recover, else one
 * that stops the job — the records are the job's own and sized under the broker's limits, so a
 * refusal of them is configuration, not input.
 */
export function internalProduceError(topic: string, err: unknown): Error {
  const message = (err as Error).message;
  if (classifyKafkaError(err) === 'retriable') return new SinkUnavailableError(`produce to ${topic} failed: ${message}`, err);
  return new ViewtallyError(`the topic ${topic} refused the job's writes (${message}); no retry can help: fix the topic or the job's access to it`, { cause: err });
}
