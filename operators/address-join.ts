import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { AddressRecordWriter, RECORD_LATE, VerdictMessage, type AddressFlush } from '../schemas/address-messages.ts';
import { AddressVerdicts } from './address-verdicts.ts';
import { signalNames, type BotVerdict } from './bot-scorer.ts';
import { ProvisionalLedger } from './provisional-ledger.ts';
import { ProvisionalViews, type HeldViewsWritten } from './provisional-views.ts';
import { ADDRESS_JUDGED, type PartitionBatch, type ViewRecord } from './view-record.ts';
import type { PartitionWatermark } from './watermark.ts';
import type { ProvisionalWrite } from '../sinks/redis-sink.ts';
import { COVER_STEPS, stepOf, VERDICT_STEP_MS } from '../schemas/verdict-step.ts';

const RESEND_FLUSHES = 20;

/**
 * The counting stage's side of the address stage, for one partition. Every event that reaches the
 * bot rule with a judged address goes out as a by-address record (with the source's watermark as a
 * marker at each flush). A view that passes the per-event signals gets its final outcome from its
 * address's verdict for its verdict step: a bot if flagged (its own step's flag, or one of the
 * COVER_STEPS after, which cover it); as classified once the verdict watermark has passed its step
 * unflagged; and until then it is held — provisionally counted in the live counters, with its ledger
 * entry, and out of the windows. Late views (older than the partition's watermark) and views of unjudged
 * addresses (carrier NAT, unparsable) keep their outcome: no address verdict applies to them.
 */
export class AddressJoin {
  // checkpointed state
  readonly verdicts: AddressVerdicts;
  readonly held = new ProvisionalViews();
  // not checkpointed: outputs since the last flush
  private readonly records: AddressRecordWriter;
  private readonly ledger = new ProvisionalLedger();
  private readonly message = new VerdictMessage();
  private lastMarker = { watermark: Number.NaN, idle: false };
  private quietFlushes = 0;

  constructor(addressPartitions: number) {
    this.verdicts = new AddressVerdicts(addressPartitions);
    this.records = new AddressRecordWriter(addressPartitions);
  }

  /** Routes a classified record to the address stage and decides whether its outcome is final now (possibly `bot`) or held. */
  join(r: ViewRecord): void {
    const f = r.addressFlags;
    if ((f & ADDRESS_JUDGED) === 0) return;
    const e = r.event!;
    this.records.add(r.offset, e.ts, r.addressHi, r.addressLo, r.videoHi, r.videoLo, f & ~ADDRESS_JUDGED);
    if ((f & RECORD_LATE) !== 0 || (r.outcome !== 'counted' && r.outcome !== 'duplicate')) return;
    const step = stepOf(e.ts);
    const flag = this.verdicts.flagOf(r.addressHi, r.addressLo, step);
    if (flag >= 0) {
      r.outcome = 'bot';
      r.bot = this.verdictOf(flag);
    } else if (!this.verdicts.decidedBefore((step + 1) * VERDICT_STEP_MS)) {
      r.held = true;
      this.held.hold(r);
    }
  }

  /** Adds a held, provisionally counted view to this flush's ledger (with its live increment, by the caller). */
  provisionallyCounted(r: ViewRecord): void {
    this.ledger.add(r);
  }

  /** Reads the verdict message at `offset`: flags become corrections and decide views from now on. */
  readVerdicts(value: Buffer, offset: number): void {
    this.verdicts.apply(this.message.load(value), offset);
  }

  /**
   * Hands over every held view whose step the verdict watermark has passed, with its final
   * outcome (`bot` and the address's verdict if flagged); then forgets flags no view can need any
   * more — before the step of `watermark` (later views are not late) and of the oldest held view.
   */
  release(watermark: number, take: (r: ViewRecord) => void): void {
    this.held.release(
      (step) => this.verdicts.decidedBefore((step + 1) * VERDICT_STEP_MS),
      (hi, lo, step) => this.verdicts.flagOf(hi, lo, step),
      (r, flag) => {
        if (flag >= 0) {
          r.outcome = 'bot';
          r.bot = this.verdictOf(flag);
        }
        take(r);
      },
    );
    const from = Math.min(stepOf(watermark), this.held.oldestStep);
    if (Number.isFinite(from)) this.verdicts.expire(from);
  }

  /**
   * Whether this flush sends the address stage something: records, a marker that moved (or `idle`
   * changed), or, every RESEND_FLUSHES flushes, the same marker again — so that a stale marker a
   * fenced worker sent last does not hold the address stage back for as long as this one is quiet.
   */
  recordsDue(watermark: number, idle: boolean): boolean {
    return this.records.records > 0 || watermark !== this.lastMarker.watermark || idle !== this.lastMarker.idle || ++this.quietFlushes >= RESEND_FLUSHES;
  }

  /** This flush's messages for the address partitions: the records since the last, and the marker. */
  takeRecords(sourcePartition: number, watermark: number, idle: boolean): AddressFlush {
    this.lastMarker = { watermark, idle };
    this.quietFlushes = 0;
    return this.records.take(sourcePartition, watermark, idle);
  }

  /** Whether a flush has ledger entries or corrections to write, or verdicts read since `verdictsTo`. */
  provisionalDue(verdictsTo: number): boolean {
    return this.ledger.views > 0 || this.verdicts.cursor > verdictsTo;
  }

  /** The ledger entries and corrections since the last flush, for the live counters' script. */
  takeProvisional(): ProvisionalWrite {
    const w = new BinaryWriter(64 + 64 * this.ledger.views);
    this.ledger.write(w);
    this.ledger.clear();
    const vw = this.verdicts.watermark;
    return {
      ledger: w.view(),
      corrections: this.verdicts.takeCorrections().bytes,
      verdictsTo: this.verdicts.cursor,
      dropBelow: Number.isFinite(vw) ? stepOf(vw) : -1,
    };
  }

  /** Writes the verdicts read, and the held views: all of them, or (`changedOnly`) those held since the last write. */
  write(w: BinaryWriter, changedOnly: boolean): void {
    this.verdicts.write(w);
    this.held.write(w, changedOnly);
  }

  /**
   * Reads written ones: the verdicts in place of these, the held views in their place (`replace`)
   * or as a change. State written per minute, before verdict steps, is read into steps: a minute's
   * flag as flags of both its steps, its held views held until its last step.
   */
  read(r: BinaryReader, replace: boolean, written: HeldViewsWritten = {}): void {
    this.verdicts.read(r, written.perMinute);
    this.held.read(r, replace, written);
  }

  private verdictOf(flag: number): BotVerdict {
    return { bot: true, score: this.verdicts.score(flag), reasons: signalNames(this.verdicts.signals(flag)) };
  }
}

/**
 * The idle marker of a source partition: the end of the minute of its latest event, plus the steps
 * a flag may cover, so that the address stage judges every step that decides that minute's views.
 */
export function idleWatermark(watermark: PartitionWatermark): number {
  return watermark.endOfLastMinute + COVER_STEPS * VERDICT_STEP_MS;
}

/** Joins every classified record of a batch with its address's verdict (see AddressJoin.join), in partition order. */
export function joinAddressVerdicts<T extends PartitionBatch>(deps: { join: (batch: T) => AddressJoin }): MonoTypeOperatorFunction<T> {
  return map((batch) => {
    const join = deps.join(batch);
    for (const r of batch.records) join.join(r);
    return batch;
  });
}

/** What a stored AddressJoin state holds provisionally counted and not flagged yet: views per video, and their provisional ledger. */
export interface HeldProvisional {
  views: Map<string, number>;
  /** The ledger payload of those views (ProvisionalLedger.write): what a reset puts back in Redis. */
  ledger: Buffer;
}

/**
 * The views a stored AddressJoin state holds provisionally counted and not flagged yet, per video
 * and as a ledger: `links` are the states of a checkpoint chain (`write`), a whole one first, then
 * each change, in order.
 */
export function provisionallyCounted(links: ReadonlyArray<{ state: BinaryReader; written: HeldViewsWritten }>): HeldProvisional {
  const first = links[0].state;
  const at = first.at;
  first.f64();
  const join = new AddressJoin(first.u32());
  first.at = at;
  links.forEach((link, i) => join.read(link.state, i === 0, link.written));
  const views = new Map<string, number>();
  const ledger = new ProvisionalLedger();
  join.held.release(
    () => true,
    (hi, lo, step) => join.verdicts.flagOf(hi, lo, step),
    (v, flag) => {
      if (v.outcome !== 'counted' || flag >= 0) return;
      views.set(v.event!.video_id, (views.get(v.event!.video_id) ?? 0) + 1);
      ledger.add(v);
    },
  );
  const w = new BinaryWriter();
  ledger.write(w);
  return { views, ledger: w.copy() };
}
