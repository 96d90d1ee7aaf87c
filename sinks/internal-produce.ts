import type { Producer } from 'kafkajs';
import { internalProduceError } from './kafka-errors.ts';

/** A message of the job's own to one partition of an internal topic. */
export interface InternalMessage {
  partition: number;
  key: string;
  value: Buffer;
}

/**
 * Sends the job's own messages to one of its internal topics (by-address records, address
 * verdicts) in order, at most one per partition in a request: a request's messages for one
 * partition travel as one record batch, which the broker takes only up to `message.max.bytes`
 * (1 MB by default), while each message is sized under it alone. A failure becomes
 * `internalProduceError`.
 */
export async function sendInternal(producer: Producer, topic: string, messages: readonly InternalMessage[]): Promise<void> {
  const rounds: InternalMessage[][] = [];
  const sent = new Map<number, number>();
  for (const m of messages) {
    const round = sent.get(m.partition) ?? 0;
    sent.set(m.partition, round + 1);
    (rounds[round] ??= []).push(m);
  }
  try {
    for (const round of rounds) await producer.send({ topic, messages: round });
  } catch (err) {
    throw internalProduceError(topic, err);
  }
}
