import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { decodeViewEvent } from '../schemas/avro-codec.ts';
import type { PartitionBatch } from './view-record.ts';

/** Decodes and validates each record's Avro value; a failure keeps the reason for classify, which makes the record `invalid`. */
export function decode<T extends PartitionBatch>(): MonoTypeOperatorFunction<T> {
  return map((batch) => {
    for (const r of batch.records) {
      if (r.value === null) {
        r.error = 'value: empty message';
        continue;
      }
      try {
        r.event = decodeViewEvent(r.value);
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
    return batch;
  });
}
