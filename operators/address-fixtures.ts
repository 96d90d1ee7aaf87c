import { AddressMessage, AddressRecordWriter, addressPartition, type AddressFlush, RECORD_BAND, RECORD_LATE, VerdictMessage } from '../schemas/address-messages.ts';
import { COVER_STEPS, stepOf, VERDICT_STEP_MS } from '../schemas/verdict-step.ts';
import { AddressScorer } from './address-scorer.ts';
import { idleWatermark } from './address-join.ts';
import { rulesWith } from './bot-scorer-fixtures.ts';
import type { BotRules } from './bot-rules.ts';
import { PartitionWatermark } from './watermark.ts';

// Shared by the address-stage tests: source partitions that write by-address messages as the job
// does, and address partitions that read them.

export const MINUTE = 60_000;
export const STEP = VERDICT_STEP_MS;
export const T0 = Date.UTC(2026, 2, 2, 9);

/** One view as a source sees it: which address (an index, keyed by `addressKey`), when, which video, whether banded. */
export interface SourceView {
  address: number;
  ts: number;
  video: number;
  band?: boolean;
}

/** The address key of address number `n` (as the keyed hash would give it: two well-mixed words). */
export function addressKey(n: number): [number, number] {
  const mix = (x: number) => {
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
    return (x ^ (x >>> 16)) >>> 0;
  };
  return [mix(n * 2 + 1), mix(n * 2 + 2)];
}

/**
 * A source partition as the counting stage runs it: views in its order, each marked late when older
 * than its watermark, and a flush (every `flushEvery` views and at the end) sending each address
 * partition its records and the watermark marker.
 */
export function sourceMessages(source: number, views: SourceView[], addressPartitions: number, options: { flushEvery?: number; outOfOrdernessMs?: number; idleAtEnd?: boolean } = {}): AddressFlush[] {
  const wm = new PartitionWatermark(options.outOfOrdernessMs ?? 5_000);
  const out = new AddressRecordWriter(addressPartitions);
  const flushes: AddressFlush[] = [];
  const flushEvery = options.flushEvery ?? 25;
  views.forEach((v, i) => {
    wm.observe(v.ts);
    const [hi, lo] = addressKey(v.address);
    out.add(i, v.ts, hi, lo, 0, v.video, (v.band ? RECORD_BAND : 0) | (v.ts < wm.current ? RECORD_LATE : 0));
    if ((i + 1) % flushEvery === 0) flushes.push(out.take(source, wm.current, false));
  });
  flushes.push(out.take(source, wm.current, false));
  if (options.idleAtEnd) flushes.push(out.take(source, idleWatermark(wm), true));
  return flushes;
}


/** Address partitions reading by-address messages; every flag they send (`<address key>@<step offset from T0>:<signals>`). */
export class AddressPartitions {
  readonly scorers: AddressScorer[];
  readonly flags = new Set<string>();
  readonly watermarks: number[];
  private readonly message = new AddressMessage();
  private readonly verdict = new VerdictMessage();

  constructor(
    readonly partitions: number,
    sources: number,
    rules: BotRules = rulesWith(),
  ) {
    this.scorers = Array.from({ length: partitions }, () => new AddressScorer({ sourcePartitions: sources, rules: () => rules }));
    this.watermarks = new Array(partitions).fill(Number.NEGATIVE_INFINITY);
  }

  /** Delivers one source flush (its messages, each to its address partition). */
  deliver(flush: AddressFlush): void {
    for (const m of flush) this.deliverTo(m.partition, m.value);
  }

  deliverTo(q: number, m: Buffer): void {
    this.scorers[q].add(this.message.load(m));
    const v = this.verdict.load(this.scorers[q].takeVerdicts(q));
    for (let i = 0; i < v.count; i++) this.flags.add(`${v.addressHi(i)}/${v.addressLo(i)}@${(v.start(i) - T0) / STEP}:${v.signals(i)}`);
    this.watermarks[q] = v.watermark;
  }

  /** Whether address `n` was flagged for the verdict step `step` steps after T0's. */
  flagged(n: number, step: number): boolean {
    const [hi, lo] = addressKey(n);
    return [...this.flags].some((f) => f.startsWith(`${hi}/${lo}@${step}:`));
  }

  /** Whether a view of address `n` at time `ts` is a bot by a flag sent: its step's, or one of the COVER_STEPS after. */
  covers(n: number, ts: number): boolean {
    const step = stepOf(ts) - stepOf(T0);
    for (let k = 0; k <= COVER_STEPS; k++) if (this.flagged(n, step + k)) return true;
    return false;
  }
}

/** The address partition of address number `n`. */
export function partitionOf(n: number, partitions: number): number {
  return addressPartition(addressKey(n)[1], partitions);
}
