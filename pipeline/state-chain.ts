/**
 * Where a stored checkpoint chain stands: its snapshot's bytes, its changes' bytes, its links. The
 * next link is a snapshot once the changes weigh as much as the snapshot — unless the caller holds
 * it back (another partition's snapshot is being written: snapshots of partitions that grow alike
 * would otherwise all fall due together and be written at once). Held back, it waits at most until
 * the changes weigh twice the snapshot (a restore then reads at most three times the state); with
 * no chain yet, or after MAX_CHAIN links (a restore applies them all), it is a snapshot anyway.
 */
export class StateChain {
  private snapshotBytes = 0;
  private changeBytes = 0;
  private links = 0;

  /** Whether the next link is a snapshot; `snapshotAllowed` false holds back one that is due but not forced. */
  nextIsFull(snapshotAllowed = true): boolean {
    if (this.links === 0 || this.links >= MAX_CHAIN || this.changeBytes >= 2 * this.snapshotBytes) return true;
    return snapshotAllowed && this.changeBytes >= this.snapshotBytes;
  }

  /** Notes a link written: a snapshot starts the chain over. */
  added(full: boolean, bytes: number): void {
    if (full) {
      this.snapshotBytes = bytes;
      this.changeBytes = 0;
      this.links = 1;
    } else {
      this.links++;
      this.changeBytes += bytes;
    }
  }

  /** Notes a chain restored from storage (`extend` false: the next link starts a new chain). */
  restored(chain: readonly Buffer[], extend = true): void {
    this.snapshotBytes = extend ? chain[0].length : 0;
    this.changeBytes = extend ? chain.slice(1).reduce((n, b) => n + b.length, 0) : 0;
    this.links = extend ? chain.length : 0;
  }
}

const MAX_CHAIN = 500;
