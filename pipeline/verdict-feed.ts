import type { Consumer, Kafka } from 'kafkajs';
import { addressVerdictsTopic } from '../schemas/address-messages.ts';
import { subscribeWhenKnown } from './topic.ts';
import { runKept } from './group-consumer.ts';
import { IDLE_POLL_MS } from './config.ts';

/**
 * The address verdicts as one worker reads them: the whole verdict topic (one partition) from its
 * start, kept in memory in order — flagged verdicts are few and the topic's retention bounds it —
 * so that each counting partition reads it from its own position, a restored one from its checkpoint's.
 * A consumer group of its own, never committed: every worker reads everything.
 */
export class VerdictFeed {
  private readonly consumer: Consumer;
  private readonly topic: string;
  private base = -1;
  private readonly values: Buffer[] = [];
  private failure: Error | null = null;
  private readonly stopping = new AbortController();

  constructor(kafka: Kafka, options: { topic: string; group: string }) {
    this.topic = addressVerdictsTopic(options.topic, options.group);
    this.consumer = kafka.consumer({ groupId: `${options.group}.verdicts.${process.pid}.${Math.random().toString(36).slice(2)}`, maxWaitTimeInMs: IDLE_POLL_MS });
  }

  /** Joins and starts reading from the start of the topic. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await subscribeWhenKnown(this.consumer, this.topic);
    // A failure that no restart mends (group-consumer.ts): no verdict would come again.
    runKept(
      this.consumer,
      {
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const offset = Number(m.offset);
            if (this.base < 0) this.base = offset;
            // Messages come in order; a re-fetch after a rebalance or a restart of this one-member group repeats some.
            if (offset === this.end && m.value !== null) this.values.push(m.value);
          }
        },
      },
      this.stopping.signal,
      (err) => (this.failure = err),
    );
  }

  /** The offset after the last message read (0 before any). */
  get end(): number {
    return this.base < 0 ? 0 : this.base + this.values.length;
  }

  /** Hands `fn` every message from offset `from` on, in order; throws if the reader failed. */
  read(from: number, fn: (value: Buffer, offset: number) => void): void {
    if (this.failure) throw this.failure;
    if (this.base < 0) return;
    // Offsets before the topic's start were deleted by retention: nothing older can be read.
    for (let offset = Math.max(from, this.base); offset < this.end; offset++) fn(this.values[offset - this.base], offset);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.consumer.disconnect();
  }
}
