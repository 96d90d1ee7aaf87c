import { Observable } from 'rxjs';
import type { Consumer } from 'kafkajs';
import { rawRecord, type PartitionBatch } from '../operators/view-record.ts';
import { runKept } from './group-consumer.ts';

/** A fetch batch as it leaves Kafka: Kafka waits for `done` before fetching more (backpressure). */
export interface SourcedBatch extends PartitionBatch {
  highWatermark: number;
  done: () => void;
}

/**
 * The Kafka source: each fetch batch of the consumer becomes one emission, and the consumer's
 * fetch loop waits until the batch has been processed — so however far behind the sinks are,
 * no more than one batch per partition is in memory.
 */
export function kafkaBatches(consumer: Consumer, options: { signal: AbortSignal; partitionsConsumedConcurrently?: number }): Observable<SourcedBatch> {
  return new Observable<SourcedBatch>((subscriber) => {
    // Batches handed out and not yet done: released on teardown so the consumer can stop.
    const inFlight = new Set<() => void>();
    runKept(
      consumer,
      {
        autoCommit: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async ({ batch, isRunning, isStale }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return;
          const records = batch.messages.map((m) => rawRecord(Number(m.offset), Number(m.timestamp), m.value));
          await new Promise<void>((resolve) => {
            const done = () => {
              inFlight.delete(done);
              resolve();
            };
            inFlight.add(done);
            subscriber.next({
              topic: batch.topic,
              partition: batch.partition,
              records,
              nextOffset: records[records.length - 1].offset + 1,
              highWatermark: Number(batch.highWatermark),
              done,
            });
          });
        },
      },
      options.signal,
      (err) => subscriber.error(err),
    );
    return () => {
      for (const done of [...inFlight]) done();
      void consumer.stop();
    };
  });
}
