import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { RECORD_BAND, RECORD_DATACENTER, RECORD_LATE, VerdictWriter, type AddressMessage } from '../schemas/address-messages.ts';
import { AddressSteps } from './address-steps.ts';
import { addressWindows, judgeAddress, type AddressJudgement, type AddressWindows } from './address-verdict.ts';
import type { BotRules } from './bot-rules.ts';
import { COVER_STEPS, firstStepOfMinute, lastStepOfMinute, stepOf, VERDICT_STEP_MS } from '../schemas/verdict-step.ts';

/** Counters of what the stage set aside. */
export interface AddressScorerStats {
  /** Records seen again (a source replayed after a crash): counted once. */
  duplicates: number;
  /** Records older than their source's watermark when written: counted for nothing. */
  late: number;
  /** Records for steps already judged (their source was idle while the others moved on): counted for nothing. */
  tooLate: number;
}

/**
 * The address stage of one by-address partition: it gathers every source partition's records of
 * its addresses into per-(address, verdict step) aggregates, and judges each step once its watermark
 * — the minimum over the source partitions' markers — has passed the step's end, from whole-stream
 * thresholds. Flagged (address, step) pairs go out with the verdict watermark: every step that ends
 * at or before it has been judged and its flags sent, step s's flags covering the COVER_STEPS before.
 *
 * Deterministic: a record counts once (by source partition and offset, which each source writes in
 * order), aggregates are sums and sets, and a step is judged only when every source has said it
 * will send no more of it (late records, which a source marks as such, count for nothing). So the
 * verdicts are the same whatever the interleaving of the sources. Idle sources: a source that says
 * it is idle stops holding the watermark back (see README "Bots"); if all are idle, the watermark is
 * the furthest of their idle marks.
 */
export class AddressScorer {
  // configuration
  private readonly sources: number;
  private readonly rules: () => BotRules;
  // checkpointed state
  private readonly sourceWatermark: Float64Array;
  private readonly sourceIdleWatermark: Float64Array;
  private readonly sourceIdle: Uint8Array;
  /** Per source, the highest offset counted: records at or below it are replays. */
  private readonly sourceOffset: Float64Array;
  /** The address watermark: never goes back. */
  watermark = Number.NEGATIVE_INFINITY;
  /** Step index of the first step not yet judged (-Infinity before any). */
  private nextStep = Number.NEGATIVE_INFINITY;
  readonly table: AddressSteps;
  readonly stats: AddressScorerStats = { duplicates: 0, late: 0, tooLate: 0 };
  // not checkpointed: flags judged since the last take, scratch
  private readonly out = new VerdictWriter();
  private windows: AddressWindows | null = null;
  private readonly judgement: AddressJudgement = { signals: 0, score: 0, quietOnLess: false };

  constructor(options: { sourcePartitions: number; rules: () => BotRules; maxKeys?: number }) {
    this.sources = options.sourcePartitions;
    this.rules = options.rules;
    this.sourceWatermark = new Float64Array(this.sources).fill(Number.NEGATIVE_INFINITY);
    this.sourceIdleWatermark = new Float64Array(this.sources).fill(Number.NEGATIVE_INFINITY);
    this.sourceIdle = new Uint8Array(this.sources);
    this.sourceOffset = new Float64Array(this.sources).fill(-1);
    this.table = new AddressSteps(options.maxKeys ?? 4_000_000);
  }

  /** Every step that ends at or before this time has been judged, its flags and those covering it sent. */
  get verdictWatermark(): number {
    return Number.isFinite(this.nextStep) ? (this.nextStep - COVER_STEPS) * VERDICT_STEP_MS : Number.NEGATIVE_INFINITY;
  }

  /** Flags judged and not yet taken. */
  get pendingFlags(): number {
    return this.out.flags;
  }

  /** Takes one source partition's message: its records, then its marker; judges the steps the watermark passed. */
  add(m: AddressMessage): void {
    const sp = m.sourcePartition;
    if (sp >= this.sources) throw new RangeError(`a by-address message from source partition ${sp}, of ${this.sources}`);
    for (let i = 0; i < m.count; i++) {
      const offset = m.offset(i);
      if (offset <= this.sourceOffset[sp]) {
        this.stats.duplicates++;
        continue;
      }
      this.sourceOffset[sp] = offset;
      const flags = m.flags(i);
      if ((flags & RECORD_LATE) !== 0) {
        this.stats.late++;
        continue;
      }
      const step = stepOf(m.ts(i));
      if (step < this.nextStep) {
        this.stats.tooLate++;
        continue;
      }
      this.table.add(m.word(i, 0), m.word(i, 1), step, m.word(i, 3), (flags & RECORD_BAND) !== 0, (flags & RECORD_DATACENTER) !== 0);
    }
    if (m.idle) {
      this.sourceIdle[sp] = 1;
      if (m.watermark > this.sourceIdleWatermark[sp]) this.sourceIdleWatermark[sp] = m.watermark;
    } else {
      this.sourceIdle[sp] = 0;
      if (m.watermark > this.sourceWatermark[sp]) this.sourceWatermark[sp] = m.watermark;
    }
    this.advance();
  }

  /** The verdict message of this partition: the flags judged since the last one, and the verdict watermark. */
  takeVerdicts(addressPartition: number): Buffer {
    return this.out.take(addressPartition, this.verdictWatermark);
  }

  /** Writes the state: the sources' marks and offsets, where judging is, and the table (whole or its change). */
  write(w: BinaryWriter, changedOnly: boolean): void {
    w.u32(this.sources);
    for (let sp = 0; sp < this.sources; sp++) {
      w.f64(this.sourceWatermark[sp]);
      w.f64(this.sourceIdleWatermark[sp]);
      w.u8(this.sourceIdle[sp]);
      w.f64(this.sourceOffset[sp]);
    }
    w.f64(this.watermark);
    w.f64(this.nextStep);
    w.f64(this.stats.duplicates);
    w.f64(this.stats.late);
    w.f64(this.stats.tooLate);
    this.table.write(w, changedOnly);
  }

  /**
   * Reads a whole state (`replace`) or a change onto this one. A state written `perMinute` (before
   * verdict steps) is read into steps: where judging was, and each minute's aggregates as those of
   * its last step (so every window that ended with the minute still holds them).
   */
  read(r: BinaryReader, replace: boolean, perMinute = false): void {
    const sources = r.u32();
    if (sources !== this.sources) throw new RangeError(`address state of ${sources} source partitions; the topic has ${this.sources}`);
    for (let sp = 0; sp < sources; sp++) {
      this.sourceWatermark[sp] = r.f64();
      this.sourceIdleWatermark[sp] = r.f64();
      this.sourceIdle[sp] = r.u8();
      this.sourceOffset[sp] = r.f64();
    }
    this.watermark = r.f64();
    const next = r.f64();
    this.nextStep = perMinute ? firstStepOfMinute(next) : next;
    this.stats.duplicates = r.f64();
    this.stats.late = r.f64();
    this.stats.tooLate = r.f64();
    this.table.read(r, replace, perMinute ? lastStepOfMinute : undefined);
  }

  /** Moves the watermark from the sources' marks and judges every step it has passed. */
  private advance(): void {
    let anyActive = false;
    let activeMin = Number.POSITIVE_INFINITY;
    let idleMax = Number.NEGATIVE_INFINITY;
    for (let sp = 0; sp < this.sources; sp++) {
      if (this.sourceIdle[sp] === 1) idleMax = Math.max(idleMax, this.sourceIdleWatermark[sp]);
      else {
        anyActive = true;
        activeMin = Math.min(activeMin, this.sourceWatermark[sp]);
      }
    }
    const computed = anyActive ? activeMin : idleMax;
    if (computed > this.watermark) this.watermark = computed;
    const end = stepOf(this.watermark) - 1; // the last step the watermark has passed
    if (!Number.isFinite(end) || end < this.nextStep) return;
    const rules = this.rules();
    if (this.windows === null || this.windows.rules !== rules) {
      if (this.windows !== null) this.table.unsettleAll();
      this.windows = addressWindows(rules);
    }
    this.judge(end);
  }

  /**
   * Judges steps nextStep … end: every address seen in a judged step or in one of the COVER_STEPS
   * before it, once per step. An address seen in s is judged at s + 1 … s + COVER_STEPS as well
   * (its windows there may flag it, and the flag covers s), from the list of the latest step it
   * has a key in up to there — unless judging it at s settled it (see AddressSteps.settle).
   */
  private judge(end: number): void {
    const table = this.table;
    const steps = [...table.steps()].filter((s) => s <= end && s + COVER_STEPS >= this.nextStep).sort((a, b) => a - b);
    const start = Number.isFinite(this.nextStep) ? this.nextStep : (steps[0] ?? end);
    for (const s of steps) {
      if (s >= start) {
        table.forEachOf(s, (slot) => {
          this.judgeOne(table.addressHiOf(slot), table.addressLoOf(slot), s);
          if (this.judgement.quietOnLess) table.settle(slot);
        });
      }
      for (let t = Math.max(s + 1, start); t <= Math.min(s + COVER_STEPS, end); t++) {
        table.forEachOf(s, (slot) => {
          if (table.isSettled(slot)) return;
          const hi = table.addressHiOf(slot);
          const lo = table.addressLoOf(slot);
          // judged from step u's list if it has a key there (most addresses have none after s: no lookups)
          if (table.latestStep(hi, lo) > s) for (let u = s + 1; u <= t; u++) if (table.find(hi, lo, u) >= 0) return;
          this.judgeOne(hi, lo, t);
        });
      }
    }
    this.nextStep = end + 1;
    table.expire(this.nextStep - this.windows!.longest - COVER_STEPS);
  }

  /** Judges (address, step) into `judgement`; sends a flag if flagged. */
  private judgeOne(hi: number, lo: number, step: number): void {
    if (judgeAddress(this.table, hi, lo, step, this.windows!, this.judgement)) this.out.add(hi, lo, step * VERDICT_STEP_MS, this.judgement.signals, this.judgement.score);
  }
}
