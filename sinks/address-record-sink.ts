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

  async send(sourcePartition: number, messages: AddressFlush): Promise<void> {
    const key = `${this.topic}/${sourcePartition}`;
    const topic = byAddressTopic(this.topic, this.group);
    try {
      await this.producer.send({ topic, messages: messages.map(({ partition, value }) => ({ partition, key, value })) });
    } catch (err) {
      throw internalProduceError(topic, err);
    }
  }
}
