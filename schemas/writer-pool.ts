import { BinaryWriter } from './binary-writer.ts';

/**
 * Writers lent out with a checkpoint and given back once its write is done, so that the next
 * checkpoint writes into memory already mapped: here a first touch of fresh memory costs about
 * 1 ms per MB, more than writing the bytes into it. Every writer given back is kept: the pool
 * holds as many as were ever out at once (every partition of a thread can have a checkpoint in
 * flight), so in a steady state no checkpoint starts from a fresh writer. A writer not given back
 * (its write failed, or its bytes are kept) is left to the collector.
 */
export class WriterPool {
  private readonly idle: BinaryWriter[] = [];

  /** An empty writer: an idle one, or a new one. */
  take(): BinaryWriter {
    const w = this.idle.pop() ?? new BinaryWriter();
    w.reset();
    return w;
  }

  /** Takes a writer back whose bytes nobody reads any more. */
  give(w: BinaryWriter): void {
    this.idle.push(w);
  }
}
