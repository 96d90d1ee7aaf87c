import type { Producer } from 'kafkajs';
import { createKafka } from './kafka-client.ts';
import { ensureTopic } from './topic.ts';
import { encodeViewEvent } from '../schemas/avro-codec.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import type { ViewEvent } from '../schemas/view-event.ts';

/** One input to produce: an event, or the reason its line could not become one. */
export type ProduceInput = { line: number; event: ViewEvent; key?: string } | { line: number; error: string };

/** What a produce run did. */
export interface ProduceSummary {
  sent: number;
  rejected: { line: number; error: string }[];
}

/**
 * Sends events to the topic as Avro, keyed by (viewer key, video_id) so every dedup decision
 * stays in one partition; inputs that fail validation are reported with their line numbers.
 */
export async function produceEvents(
  producer: Producer,
  topic: string,
  inputs: Iterable<ProduceInput> | AsyncIterable<ProduceInput>,
  options: { batchSize?: number; onProgress?: (s: ProduceSummary) => void } = {},
): Promise<ProduceSummary> {
  const batchSize = options.batchSize ?? 5_000;
  const summary: ProduceSummary = { sent: 0, rejected: [] };
  let messages: { key: string; value: Buffer }[] = [];
  const send = async () => {
    if (messages.length === 0) return;
    // acks=all: a sent event is on every in-sync replica (at least min.insync.replicas), so it survives its leader's loss
    await producer.send({ topic, messages, acks: -1 });
    summary.sent += messages.length;
    messages = [];
    options.onProgress?.(summary);
  };
  for await (const input of inputs) {
    if ('error' in input) {
      summary.rejected.push(input);
      continue;
    }
    try {
      messages.push({ key: input.key ?? kafkaKey(input.event), value: encodeViewEvent(input.event) });
    } catch (err) {
      summary.rejected.push({ line: input.line, error: (err as Error).message });
    }
    if (messages.length >= batchSize) await send();
  }
  await send();
  return summary;
}

/** An idempotent producer for `topic`, which is created with `partitions` partitions when missing. */
export async function connectProducer(options: { brokers: string[]; topic: string; partitions: number; clientId: string }): Promise<Producer> {
  const kafka = createKafka(options.clientId, options.brokers);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopic(admin, options.topic, options.partitions);
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}
