import { AddressScorer } from '../operators/address-scorer.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import { AddressMessage } from '../schemas/address-messages.ts';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import type { EncodedState } from '../sinks/redis-sink.ts';
import { CheckpointFormatError } from '../sinks/sink-errors.ts';
import { StateChain } from './state-chain.ts';

/**
 * A link of an address partition's checkpoint chain: "VTA2", u8 full, f64 next offset,
 * u32 checkpoints, then the address stage's state (whole in a snapshot, its table's change in a change).
 * A "VTA1" link is the same with the state per minute (before verdict steps): it is read as well.
 */
const MAGIC = Buffer.from('VTA2');
const PER_MINUTE_MAGIC = Buffer.from('VTA1');

/** One by-address partition as this worker owns it: the address stage's state and where it is. */
export class AddressTask {
  // configuration
  readonly partition: number;
  readonly progressKey: string;
  readonly epoch: number;
  // checkpointed state
  nextOffset: number;
  readonly scorer: AddressScorer;
  private checkpoints = 0;
  private readonly chain = new StateChain();
  // not checkpointed
  private readonly message = new AddressMessage();
  private sentWatermark = Number.NaN;
  /** Messages that were no by-address message (they cannot come from this job): skipped. */
  malformed = 0;

  constructor(options: { partition: number; progressKey: string; epoch: number; sourcePartitions: number; rules: () => BotRules; checkpointOffset: number }) {
    this.partition = options.partition;
    this.progressKey = options.progressKey;
    this.epoch = options.epoch;
    this.nextOffset = options.checkpointOffset;
    this.scorer = new AddressScorer({ sourcePartitions: options.sourcePartitions, rules: options.rules });
  }

  /** Takes the message at `offset` (in order); one of another format is skipped and counted. */
  add(value: Buffer | null, offset: number): void {
    if (offset < this.nextOffset) return;
    try {
      if (value !== null) this.scorer.add(this.message.load(value));
    } catch {
      this.malformed++;
    }
    this.nextOffset = offset + 1;
  }

  /** Whether flags wait to be sent, or the verdict watermark moved since the last message. */
  get verdictsDue(): boolean {
    return this.scorer.pendingFlags > 0 || this.scorer.verdictWatermark !== this.sentWatermark;
  }

  /** The verdict message to send now (flags since the last, and the verdict watermark), or null when none is due. */
  takeVerdicts(): Buffer | null {
    if (!this.verdictsDue) return null;
    this.sentWatermark = this.scorer.verdictWatermark;
    return this.scorer.takeVerdicts(this.partition);
  }

  /**
   * A checkpoint, taken at one instant: the verdicts due (null if none) and the state at `offset`.
   * Send the verdicts before storing the state. Taken apart, a message read between the two could
   * judge a step whose flags the stored state counts as sent: a crash then would lose them.
   */
  takeCheckpoint(): { verdicts: Buffer | null; offset: number; state: EncodedState } {
    return { verdicts: this.takeVerdicts(), offset: this.nextOffset, state: this.encodeState() };
  }

  /** The next link of the chain: a snapshot, or the change since the last link. */
  private encodeState(): EncodedState {
    const full = this.chain.nextIsFull();
    const w = new BinaryWriter(1 << 16);
    w.bytes(MAGIC);
    w.u8(full ? 1 : 0);
    w.f64(this.nextOffset);
    w.u32(++this.checkpoints);
    this.scorer.write(w, !full);
    const bytes = w.copy();
    this.chain.added(full, bytes.length);
    return { full, bytes };
  }

  /** Restores a stored chain: the snapshot, then each change. */
  restore(chain: readonly Buffer[]): void {
    chain.forEach((link, i) => {
      const magic = link.subarray(0, MAGIC.length);
      const perMinute = magic.equals(PER_MINUTE_MAGIC);
      if (!magic.equals(MAGIC) && !perMinute) throw new CheckpointFormatError(`address checkpoint link ${i} is not viewtally address state`);
      const r = new BinaryReader(link);
      r.bytes(MAGIC.length);
      const full = r.u8() === 1;
      if (full !== (i === 0)) throw new CheckpointFormatError(`an address checkpoint chain must be one snapshot, then changes (link ${i})`);
      this.nextOffset = r.f64();
      this.checkpoints = r.u32();
      this.scorer.read(r, full, perMinute);
      if (r.remaining !== 0) throw new CheckpointFormatError(`address checkpoint link ${i} has ${r.remaining} bytes after its state`);
    });
    this.chain.restored(chain);
  }
}
