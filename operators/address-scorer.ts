import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { RECORD_BAND, RECORD_DATACENTER, RECORD_LATE, VerdictWriter, type AddressMessage } from '../schemas/address-messages.ts';
import { AddressMinutes } from './address-minutes.ts';
import { addressWindows, judgeAddress, type AddressJudgement, type AddressWindows } from './address-verdict.ts';
import type { BotRules } from './bot-rules.ts';

const MINUTE = 60_000;
/**
 * A flag for minute m covers the minute before too: a farm's first views, in the minute it starts,
 * are bots as well. So a minute is final only once the next one has been judged.
 */
export const COVER_MINUTES = 1;

/** Counters of what the stage set aside. */
export interface AddressScorerStats {
  /** Records seen again (a source replayed after a crash): counted once. */
  duplicates: number;
  /** Records older than their source's watermark when written: counted for nothing. */
  late: number;
  /** Records for minutes already judged (their source was idle while the others moved on): counted for nothing. */
  tooLate: number;
}

/**
 * The address stage of one by-address partition: it gathers every source partition's records of
 * its addresses into per-(address, minute) aggregates, and judges each minute once its watermark —
 * the minimum over the source partitions' markers — has passed the minute's end, from whole-stream
 * thresholds. Flagged (address, minute) pairs go out with the verdict watermark: every minute that
 * ends at or before it has been judged and its flags sent, minute m's flags covering m − 1 as well.
 *
 * Deterministic: a record counts once (by source partition and offset, which each source writes in
 * order), aggregates are sums and sets, and a minute is judged only when every source has said it
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
  /** Minute index of the first minute not yet judged (-Infinity before any). */
  private nextMinute = Number.NEGATIVE_INFINITY;
  readonly table: AddressMinutes;
  readonly stats: AddressScorerStats = { duplicates: 0, late: 0, tooLate: 0 };
  // not checkpointed: flags judged since the last take, scratch
  private readonly out = new VerdictWriter();
  private windows: AddressWindows | null = null;
  private readonly judgement: AddressJudgement = { signals: 0, score: 0 };

  constructor(options: { sourcePartitions: number; rules: () => BotRules; maxKeys?: number }) {
    this.sources = options.sourcePartitions;
    this.rules = options.rules;
    this.sourceWatermark = new Float64Array(this.sources).fill(Number.NEGATIVE_INFINITY);
    this.sourceIdleWatermark = new Float64Array(this.sources).fill(Number.NEGATIVE_INFINITY);
    this.sourceIdle = new Uint8Array(this.sources);
    this.sourceOffset = new Float64Array(this.sources).fill(-1);
    this.table = new AddressMinutes(options.maxKeys ?? 4_000_000);
  }

  /** Every minute that ends at or before this time has been judged, its flags and those covering it sent. */
  get verdictWatermark(): number {
    return Number.isFinite(this.nextMinute) ? (this.nextMinute - COVER_MINUTES) * MINUTE : Number.NEGATIVE_INFINITY;
  }

  /** Flags judged and not yet taken. */
  get pendingFlags(): number {
    return this.out.flags;
  }

  /** Takes one source partition's message: its records, then its marker; judges the minutes the watermark passed. */
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
      const minute = Math.floor(m.ts(i) / MINUTE);
      if (minute < this.nextMinute) {
        this.stats.tooLate++;
        continue;
      }
      this.table.add(m.word(i, 0), m.word(i, 1), minute, m.word(i, 3), (flags & RECORD_BAND) !== 0, (flags & RECORD_DATACENTER) !== 0);
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
    w.f64(this.nextMinute);
    w.f64(this.stats.duplicates);
    w.f64(this.stats.late);
    w.f64(this.stats.tooLate);
    this.table.write(w, changedOnly);
  }

  /** Reads a whole state (`replace`) or a change onto this one. */
  read(r: BinaryReader, replace: boolean): void {
    const sources = r.u32();
    if (sources !== this.sources) throw new RangeError(`address state of ${sources} source partitions; the topic has ${this.sources}`);
    for (let sp = 0; sp < sources; sp++) {
      this.sourceWatermark[sp] = r.f64();
      this.sourceIdleWatermark[sp] = r.f64();
      this.sourceIdle[sp] = r.u8();
      this.sourceOffset[sp] = r.f64();
    }
    this.watermark = r.f64();
    this.nextMinute = r.f64();
    this.stats.duplicates = r.f64();
    this.stats.late = r.f64();
    this.stats.tooLate = r.f64();
    this.table.read(r, replace);
  }

  /** Moves the watermark from the sources' marks and judges every minute it has passed. */
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
    const end = Math.floor(this.watermark / MINUTE) - 1; // the last minute the watermark has passed
    if (!Number.isFinite(end) || end < this.nextMinute) return;
    const rules = this.rules();
    if (this.windows === null || this.windows.rules !== rules) this.windows = addressWindows(rules);
    this.judge(end);
  }

  /** Judges minutes nextMinute … end: every address seen in a judged minute or the minute before it, once. */
  private judge(end: number): void {
    const table = this.table;
    const minutes = [...table.minutes()].filter((m) => m <= end && m + 1 >= this.nextMinute).sort((a, b) => a - b);
    const start = Number.isFinite(this.nextMinute) ? this.nextMinute : (minutes[0] ?? end);
    for (const m of minutes) {
      if (m >= start) table.forEachOf(m, (slot) => this.judgeOne(table.addressHiOf(slot), table.addressLoOf(slot), m));
      // an address seen in m and not in m + 1 is judged at m + 1 too: its window there may flag it, and the flag covers m
      if (m + 1 <= end && m + 1 >= start) {
        table.forEachOf(m, (slot) => {
          const hi = table.addressHiOf(slot);
          const lo = table.addressLoOf(slot);
          if (table.find(hi, lo, m + 1) < 0) this.judgeOne(hi, lo, m + 1);
        });
      }
    }
    this.nextMinute = end + 1;
    table.expire(this.nextMinute - this.windows!.longest - COVER_MINUTES);
  }

  private judgeOne(hi: number, lo: number, minute: number): void {
    if (judgeAddress(this.table, hi, lo, minute, this.windows!, this.judgement)) this.out.add(hi, lo, minute * MINUTE, this.judgement.signals, this.judgement.score);
  }
}
