import type { Outcome, ViewEvent } from '../schemas/view-event.ts';
import type { BotVerdict } from './bot-scorer.ts';

/** One Kafka message on its way through the operators; `outcome` is set exactly once, by classify. */
export interface ViewRecord {
  offset: number;
  /** Kafka record timestamp (ms): the arrival clock that bounds future event times. */
  kafkaTs: number;
  value: Buffer | null;
  event: ViewEvent | null;
  /** Why decoding or validation failed; set together with outcome `invalid`. */
  error: string | null;
  /** Fingerprints of the video id and of the viewer key (see schemas/viewer-key.ts), set by classify. */
  videoHi: number;
  videoLo: number;
  viewerHi: number;
  viewerLo: number;
  outcome: Outcome | null;
  bot: BotVerdict | null;
  /** Whether the event's minute window had already fired when it arrived (a correction). */
  late: boolean;
  /** The event's address key and flags (ADDRESS_JUDGED, RECORD_* of schemas/address-messages.ts), set by the bot rule. */
  addressHi: number;
  addressLo: number;
  addressFlags: number;
  /** Whether its final outcome waits for its address's verdict (the windows get it then). */
  held: boolean;
}

/** Address flag: the address stage judges this event's address (it reached the bot rule; its address parsed and is no carrier NAT). */
export const ADDRESS_JUDGED = 0x80;

/** One Kafka fetch batch of one partition: the unit every operator works on. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: ViewRecord[];
  /** Offset after the last record: where consumption resumes. */
  nextOffset: number;
}

/** A fresh record for a raw Kafka message, before decoding. */
export function rawRecord(offset: number, kafkaTs: number, value: Buffer | null): ViewRecord {
  return { offset, kafkaTs, value, event: null, error: null, videoHi: 0, videoLo: 0, viewerHi: 0, viewerLo: 0, outcome: null, bot: null, late: false, addressHi: 0, addressLo: 0, addressFlags: 0, held: false };
}
