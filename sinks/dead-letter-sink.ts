import type { Producer } from 'kafkajs';
import { ViewtallyError } from '../schemas/errors.ts';
import { SinkUnavailableError } from './sink-errors.ts';
import { classifyKafkaError } from './kafka-errors.ts';
import { BATCH_OVERHEAD_BYTES, deadLetterRecord, groupsUnder, headersOnly, type DeadLetter, type DeadLetterRecord } from './dead-letter-record.ts';

export type { DeadLetter };

/** `max.message.bytes` the job gives the dead-letter topic it creates: the largest record batch the broker takes there. */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = 1 << 20;

// The broker closes the connection on a request over `socket.request.max.bytes` (100 MiB by default),
// which looks like an outage: requests stay far below it whatever the topic allows.
const MAX_REQUEST_BYTES = 32 << 20;

/** The dead-letter topic of a topic. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dead-letters`;
}

/** Options of {@link DeadLetterSink}. */
export interface DeadLetterSinkOptions {
  /** The dead-letter topic's `max.message.bytes`, as the broker has it. */
  maxMessageBytes: number;
  /** A letter the broker refused even on its own, headers only: it is skipped, and must be reported. */
  onPoison: (letter: DeadLetter, err: Error) => void;
}

/**
 * Sends undecodable messages to the dead-letter topic, keyed by their source position, in requests
 * the broker accepts: each under the topic's `max.message.bytes`, a letter too big even alone cut to
 * fit (see {@link deadLetterRecord}). Sent before the checkpoint that covers them, so none is lost; a
 * replay after a crash may send one again, with the same key. A request the broker refuses for its
 * records is split until the refused letter is alone; that one goes headers only, and if even that is
 * refused it is skipped through `onPoison`, so one letter never holds the partition.
 */
export class DeadLetterSink {
  // Letters already stored: a retry of a failed send does not send them again.
  private readonly sent = new WeakSet<DeadLetter>();

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly options: DeadLetterSinkOptions,
  ) {}

  /**
   * Sends the letters; throws SinkUnavailableError when a retry may succeed (the broker is away), and
   * a non-retriable error when none can (the topic refuses this client).
   */
  async send(letters: DeadLetter[]): Promise<void> {
    const budget = Math.min(this.options.maxMessageBytes, MAX_REQUEST_BYTES) - BATCH_OVERHEAD_BYTES;
    const records = letters.filter((l) => !this.sent.has(l)).map((l) => deadLetterRecord(this.topic, l, budget));
    for (const group of groupsUnder(records, budget)) await this.sendGroup(group);
  }

  private async sendGroup(group: DeadLetterRecord[]): Promise<void> {
    try {
      await this.producer.send({
        topic: deadLetterTopic(this.topic),
        acks: -1,
        messages: group.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      });
      for (const r of group) this.sent.add(r.letter);
    } catch (err) {
      const kind = classifyKafkaError(err);
      const message = (err as Error).message;
      if (kind === 'retriable') throw new SinkUnavailableError(`dead-letter produce failed: ${message}`, err);
      if (kind === 'fatal') {
        throw new ViewtallyError(`the dead-letter topic ${deadLetterTopic(this.topic)} refused the job's writes (${message}); no retry can help: fix the topic or the job's access to it`, { cause: err });
      }
      if (group.length > 1) {
        const half = Math.ceil(group.length / 2);
        await this.sendGroup(group.slice(0, half));
        await this.sendGroup(group.slice(half));
      } else if (group[0].value !== null && group[0].value.length > 0) {
        await this.sendGroup([headersOnly(group[0])]);
      } else {
        this.options.onPoison(group[0].letter, err as Error);
        this.sent.add(group[0].letter);
      }
    }
  }
}
