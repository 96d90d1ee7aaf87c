import type { Producer } from 'kafkajs';
import { SinkUnavailableError } from './sink-errors.ts';

/** An undecodable message, kept byte for byte with the reason it was refused. */
export interface DeadLetter {
  partition: number;
  offset: number;
  value: Buffer | null;
  reason: string;
}

/** The dead-letter topic of a topic. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dead-letters`;
}

/**
 * Sends undecodable messages to the dead-letter topic: the original bytes, the reason and the
 * source position as headers, keyed by the source position. Sent before the checkpoint that covers
 * them, so none is lost; a replay after a crash may send one again, with the same key.
 */
export class DeadLetterSink {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    try {
      await this.producer.send({
        topic: deadLetterTopic(this.topic),
        acks: -1,
        messages: letters.map((l) => ({
          key: `${this.topic}/${l.partition}/${l.offset}`,
          value: l.value,
          headers: { reason: l.reason, source_topic: this.topic, source_partition: String(l.partition), source_offset: String(l.offset) },
        })),
      });
    } catch (err) {
      throw new SinkUnavailableError(`dead-letter produce failed: ${(err as Error).message}`, err);
    }
  }
}
