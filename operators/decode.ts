import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { decodeViewEvent } from '../schemas/avro-codec.ts';
import { viewerKey } from '../schemas/viewer-key.ts';
import type { PartitionBatch } from './view-record.ts';

/** Decodes and validates each record's Avro value; a failure makes the record `invalid` with the reason. */
export function decode<T extends PartitionBatch>(): MonoTypeOperatorFunction<T> {
  return map((batch) => {
    for (const r of batch.records) {
      if (r.value === null) {
        r.outcome = 'invalid';
        r.error = 'value: empty message';
        continue;
      }
      try {
        r.event = decodeViewEvent(r.value);
        r.viewerKey = viewerKey(r.event);
      } catch (err) {
        r.outcome = 'invalid';
        r.error = (err as Error).message;
      }
    }
    return batch;
  });
}
