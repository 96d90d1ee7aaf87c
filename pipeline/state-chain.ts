/**
 * Where a stored checkpoint chain stands: its snapshot's bytes, its changes' bytes, its links. The
 * next link is a snapshot starting a new chain when there is none yet, or once the changes weigh as
 * much as the snapshot (a restore then reads at most twice the state), or after MAX_CHAIN links (a
 * restore applies them all); else a change.
 */
export class StateChain {
  private snapshotBytes = 0;
  private changeBytes = 0;
  private links = 0;

  /** Whether the next link must be a snapshot. */
  get nextIsFull(): boolean {
    return !(this.links > 0 && this.changeBytes < this.snapshotBytes && this.links < MAX_CHAIN);
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
