import { BinaryWriter } from './binary-writer.ts';

/**
 * Writers lent out with a checkpoint and given back once its write is done, so that the next
 * checkpoint writes into memory already mapped: here a first touch of fresh memory costs about
 * 1 ms per MB, more than writing the bytes into it. A writer not given back (its write failed, or
 * its bytes are kept) is left to the collector; at most `keep` idle writers are held.
 */
export class WriterPool {
  private readonly idle: BinaryWriter[] = [];
  private readonly keep: number;

  constructor(keep: number) {
    this.keep = keep;
  }

  /** An empty writer: an idle one, or a new one. */
  take(): BinaryWriter {
    const w = this.idle.pop() ?? new BinaryWriter();
    w.reset();
    return w;
  }

  /** Takes a writer back whose bytes nobody reads any more. */
  give(w: BinaryWriter): void {
    if (this.idle.length < this.keep) this.idle.push(w);
  }
}
