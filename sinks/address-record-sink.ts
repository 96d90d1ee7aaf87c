import type { Producer } from 'kafkajs';
import { byAddressTopic, type AddressFlush } from '../schemas/address-messages.ts';
import { internalProduceError } from './kafka-errors.ts';

/**
 * Sends a source partition's by-address messages (schemas/address-messages.ts), each to its
 * address partition, chosen by number. Sent before the checkpoint that covers their records, so
 * none is lost; a replay after a crash may send records again, which the address stage counts once.
 */
export class AddressRecordSink {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly group: string,
  ) {}

  /**
   * Sends at most one message per address partition in a request, in order: a request's messages for
   * one partition travel as one record batch, which the broker takes only up to `message.max.bytes`
   * (1 MB by default), and a flush held back may hold several messages of ~540 kB for a partition.
   */
  async send(sourcePartition: number, messages: AddressFlush): Promise<void> {
    const key = `${this.topic}/${sourcePartition}`;
    const topic = byAddressTopic(this.topic, this.group);
    const rounds: Array<Array<{ partition: number; key: string; value: Buffer }>> = [];
    const sent = new Map<number, number>();
    for (const { partition, value } of messages) {
      const round = sent.get(partition) ?? 0;
      sent.set(partition, round + 1);
      (rounds[round] ??= []).push({ partition, key, value });
    }
    try {
      for (const round of rounds) await this.producer.send({ topic, messages: round });
    } catch (err) {
      throw internalProduceError(topic, err);
    }
  }
}
