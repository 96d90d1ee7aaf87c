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

/** Classifies a kafkajs error by its protocol type and its `retriable` flag, looking through the causes kafkajs wraps it in. */
export function classifyKafkaError(err: unknown): KafkaErrorKind {
  const chain: KafkaJsErrorShape[] = [];
  for (let e = err; typeof e === 'object' && e !== null && chain.length < 8; e = (e as KafkaJsErrorShape).cause) chain.push(e as KafkaJsErrorShape);
  if (chain.some((e) => e.type !== undefined && RECORD_ERRORS.has(e.type))) return 'record';
  const first = chain[0];
  // kafkajs gives up on a retriable error after its own few retries; the job's backoff goes on.
  if (first?.name === 'KafkaJSNumberOfRetriesExceeded') return 'retriable';
  if (typeof first?.retriable === 'boolean') return first.retriable ? 'retriable' : 'fatal';
  return 'retriable'; // not kafkajs's: a socket or a timer, which the network can fix
}
