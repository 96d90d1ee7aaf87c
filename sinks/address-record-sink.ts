import type { Producer } from 'kafkajs';
import { byAddressTopic, type AddressFlush } from '../schemas/address-messages.ts';
import { sendInternal } from './internal-produce.ts';

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

  /** Sends a flush's messages; one held back may hold several of ~540 kB for one address partition (sendInternal sends them apart). */
  async send(sourcePartition: number, messages: AddressFlush): Promise<void> {
    const key = `${this.topic}/${sourcePartition}`;
    await sendInternal(this.producer, byAddressTopic(this.topic, this.group), messages.map(({ partition, value }) => ({ partition, key, value })));
  }
}
