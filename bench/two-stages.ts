import { POPULATIONS, type LabelledEvent } from './labelled-stream.ts';
import { hashString } from './labelled-stream-random.ts';
import { AddressMessage, VerdictMessage } from '../schemas/address-messages.ts';
import { OUTCOMES, type ViewEvent } from '../schemas/view-event.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { AddressJoin, idleWatermark } from '../operators/address-join.ts';
import { AddressScorer } from '../operators/address-scorer.ts';
import type { BotRules } from '../operators/bot-rules.ts';
import { createBotScorer } from '../operators/bot-scorer.ts';
import { classifyRecord, type ClassifyState } from '../operators/classify.ts';
import { DedupStore } from '../operators/dedup-store.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { rawRecord } from '../operators/view-record.ts';
import type { TimeRules, ViewRules } from '../operators/view-rules.ts';
import { PartitionWatermark } from '../operators/watermark.ts';

const VIEW: ViewRules = { minWatchMs: 30_000, minWatchFraction: 0.5, sessionWindowMs: 30 * 60_000, eventIdHorizonMs: 24 * 3_600_000, dedupMemoryBytes: 1 << 24 };
const TIME: TimeRules = { outOfOrdernessMs: 5_000, idlenessMs: 10_000, maxLatenessMs: 7 * 24 * 3_600_000, maxFutureSkewMs: 300_000 };

/** What the two stages decided for a labelled stream: per event (in the stream's order) its final outcome, its label and its population (indexes of OUTCOMES and POPULATIONS). */
export interface TwoStageRun {
  events: number;
  outcomes: Uint8Array;
  expected: Uint8Array;
  populations: Uint8Array;
  /** Flags the address stage sent, and records it set aside as too late. */
  flags: number;
  tooLate: number;
}

const OUTCOME = new Map(OUTCOMES.map((o, i) => [o, i]));
const POPULATION = new Map(POPULATIONS.map((p, i) => [p, i]));

/**
 * The counting stage and the address stage in memory, in the job's order: each source partition
 * (by the Kafka key, as the job's topic) classifies a batch as its events arrive, joins it with the
 * verdicts it has read and sends its records and marker; each address partition judges the verdict
 * steps its watermark passes; each source partition reads the verdict topic and releases the views it
 * held. At the end every source says it is idle. The stream is read once, as it is generated.
 */
export function runTwoStages(items: Iterable<LabelledEvent>, options: { partitions: number; rules: BotRules; batch?: number; events?: number }): TwoStageRun {
  const n = options.partitions;
  const batch = options.batch ?? 500;
  const fp = new Fingerprinter('0123456789abcdef0123456789abcdef');
  const keys = new Fingerprinter('fedcba9876543210fedcba9876543210');
  let capacity = options.events ?? 1 << 16;
  let outcomes = new Uint8Array(capacity);
  let expected = new Uint8Array(capacity);
  let populations = new Uint8Array(capacity);
  const sources = Array.from({ length: n }, () => ({
    queue: [] as ViewEvent[],
    /** Stream position of each event of this partition, by its offset. */
    seqs: new Int32Array(1024),
    offset: 0,
    done: false,
    join: new AddressJoin(n),
    state: {
      watermark: new PartitionWatermark(TIME.outOfOrdernessMs),
      eventIds: new DedupStore({ ttlMs: VIEW.eventIdHorizonMs, maxEntries: 1 << 22 }),
      sessions: new DedupStore({ ttlMs: VIEW.sessionWindowMs, maxEntries: 1 << 22 }),
      bots: createBotScorer({ rules: () => options.rules, watch: VIEW, addressKeys: keys }),
      fingerprints: fp,
    } satisfies ClassifyState,
  }));
  const scorers = Array.from({ length: n }, () => new AddressScorer({ sourcePartitions: n, rules: () => options.rules }));
  const verdictLog: Buffer[] = [];
  const message = new AddressMessage();
  const verdict = new VerdictMessage();
  let flags = 0;

  const process = (p: number) => {
    const s = sources[p];
    for (const e of s.queue) {
      const r = rawRecord(s.offset++, e.ts, null);
      r.event = e;
      classifyRecord(r, s.state, VIEW, TIME);
      s.join.join(r);
      if (!r.held) outcomes[s.seqs[r.offset]] = OUTCOME.get(r.outcome!)!;
    }
    s.queue.length = 0;
    const wm = s.done ? idleWatermark(s.state.watermark) : s.state.watermark.current;
    s.join.takeRecords(p, wm, s.done).forEach(({ partition: q, value }) => {
      scorers[q].add(message.load(value));
      const v = scorers[q].takeVerdicts(q);
      flags += verdict.load(v).count;
      verdictLog.push(v);
    });
    for (const src of sources) {
      for (let o = src.join.verdicts.cursor; o < verdictLog.length; o++) src.join.readVerdicts(verdictLog[o], o);
      src.join.release(src.state.watermark.current, (r) => (outcomes[src.seqs[r.offset]] = OUTCOME.get(r.outcome!)!));
    }
  };

  let seq = 0;
  for (const l of items) {
    if (seq === capacity) {
      capacity *= 2;
      [outcomes, expected, populations] = [outcomes, expected, populations].map((a) => {
        const bigger = new Uint8Array(capacity);
        bigger.set(a);
        return bigger;
      });
    }
    expected[seq] = OUTCOME.get(l.expected)!;
    populations[seq] = POPULATION.get(l.population)!;
    const p = hashString(kafkaKey(l.event)) % n;
    const s = sources[p];
    if (s.offset + s.queue.length === s.seqs.length) {
      const bigger = new Int32Array(2 * s.seqs.length);
      bigger.set(s.seqs);
      s.seqs = bigger;
    }
    s.seqs[s.offset + s.queue.length] = seq++;
    s.queue.push(l.event);
    if (s.queue.length === batch) process(p);
  }
  for (let round = 0; sources.some((s) => s.queue.length > 0 || s.join.held.views > 0 || !s.done); round++) {
    if (round > 10) throw new Error('two stages: views still held after every source said it was idle');
    sources.forEach((s, p) => {
      s.done = true;
      process(p);
    });
  }
  return { events: seq, outcomes: outcomes.subarray(0, seq), expected: expected.subarray(0, seq), populations: populations.subarray(0, seq), flags, tooLate: scorers.reduce((k, s) => k + s.stats.tooLate, 0) };
}

/** Bot verdicts against the labels: whole-stream precision and recall, view farms, people (and those behind carrier NAT), counted views. */
export interface BotAccuracy {
  /** Of the events decided `bot`, those labelled bot; of those labelled bot, those decided `bot`. */
  precision: number;
  recall: number;
  bots: number;
  /** Share of the view farms' views decided `bot`. */
  farmRecall: number;
  farmViews: number;
  /** Share of people's views (labelled counted or duplicate) decided `bot`; and of those behind carrier NAT. */
  peopleFlagged: number;
  peopleViews: number;
  natFlagged: number;
  /** Counted views decided, against the labels. */
  counted: number;
  countedExpected: number;
  /** Events decided `bot` per population, of its events labelled bot, counted or duplicate. */
  byPopulation: Record<string, { views: number; flagged: number }>;
}

/** Scores a two-stage run against its labels. */
export function botAccuracy(run: TwoStageRun): BotAccuracy {
  const [BOT, COUNTED, DUPLICATE] = ['bot', 'counted', 'duplicate'].map((o) => OUTCOME.get(o as never)!);
  const byPopulation: BotAccuracy['byPopulation'] = Object.fromEntries(POPULATIONS.map((p) => [p, { views: 0, flagged: 0 }]));
  let tp = 0;
  let decided = 0;
  let bots = 0;
  let counted = 0;
  let countedExpected = 0;
  for (let i = 0; i < run.events; i++) {
    const e = run.expected[i];
    const bot = run.outcomes[i] === BOT;
    if (bot) decided++;
    if (run.outcomes[i] === COUNTED) counted++;
    if (e === COUNTED) countedExpected++;
    if (e === BOT) {
      bots++;
      if (bot) tp++;
    }
    if (e !== BOT && e !== COUNTED && e !== DUPLICATE) continue;
    const p = byPopulation[POPULATIONS[run.populations[i]]];
    p.views++;
    if (bot) p.flagged++;
  }
  const share = (ps: string[]) => {
    const views = ps.reduce((n, p) => n + byPopulation[p].views, 0);
    return { views, flagged: ps.reduce((n, p) => n + byPopulation[p].flagged, 0) / Math.max(1, views) };
  };
  const people = share(POPULATIONS.filter((p) => p.startsWith('human_')));
  return {
    precision: tp / Math.max(1, decided),
    recall: tp / Math.max(1, bots),
    bots,
    farmRecall: share(['bot_farm']).flagged,
    farmViews: share(['bot_farm']).views,
    peopleFlagged: people.flagged,
    peopleViews: people.views,
    natFlagged: share(['human_nat', 'human_cgnat']).flagged,
    counted,
    countedExpected,
    byPopulation,
  };
}
