import type { LabelledEvent } from '../bench/labelled-stream.ts';
import { hashString } from '../bench/labelled-stream-random.ts';
import { AddressMessage, VerdictMessage } from '../schemas/address-messages.ts';
import type { Outcome } from '../schemas/view-event.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { AddressJoin, idleWatermark } from './address-join.ts';
import { AddressScorer } from './address-scorer.ts';
import type { BotRules } from './bot-rules.ts';
import { createBotScorer } from './bot-scorer.ts';
import { classifyRecord, type ClassifyState } from './classify.ts';
import { DedupStore } from './dedup-store.ts';
import { Fingerprinter } from './fingerprint.ts';
import { rawRecord } from './view-record.ts';
import type { TimeRules, ViewRules } from './view-rules.ts';
import { PartitionWatermark } from './watermark.ts';

const VIEW: ViewRules = { minWatchMs: 30_000, minWatchFraction: 0.5, sessionWindowMs: 30 * 60_000, eventIdHorizonMs: 24 * 3_600_000, dedupMemoryBytes: 1 << 24 };
const TIME: TimeRules = { outOfOrdernessMs: 5_000, idlenessMs: 10_000, maxLatenessMs: 7 * 24 * 3_600_000, maxFutureSkewMs: 300_000 };

/** What the two stages decided for a labelled stream: each event's final outcome, and how the address stage's input went. */
export interface TwoStageRun {
  outcomes: Outcome[];
  flags: number;
  tooLate: number;
}

/**
 * The counting stage and the address stage in memory, in the job's order: each source partition
 * (by the Kafka key, as the job's topic) classifies a batch, joins it with the verdicts it has read
 * and sends its records and marker at a flush; each address partition judges the minutes its
 * watermark passes; each source partition reads the verdict topic and releases the views it held.
 * Sources take turns batch by batch; one whose events are all read says it is idle. Returns each
 * event's final outcome, in the stream's order.
 */
export function runTwoStages(items: readonly LabelledEvent[], options: { partitions: number; rules: BotRules; batch?: number }): TwoStageRun {
  const n = options.partitions;
  const batch = options.batch ?? 500;
  const fp = new Fingerprinter('0123456789abcdef0123456789abcdef');
  const keys = new Fingerprinter('fedcba9876543210fedcba9876543210');
  const sources = Array.from({ length: n }, () => ({
    items: [] as number[],
    at: 0,
    join: new AddressJoin(n),
    state: {
      watermark: new PartitionWatermark(TIME.outOfOrdernessMs),
      eventIds: new DedupStore({ ttlMs: VIEW.eventIdHorizonMs, maxEntries: 1 << 20 }),
      sessions: new DedupStore({ ttlMs: VIEW.sessionWindowMs, maxEntries: 1 << 20 }),
      bots: createBotScorer({ rules: () => options.rules, watch: VIEW, addressKeys: keys }),
      fingerprints: fp,
    } satisfies ClassifyState,
  }));
  items.forEach((l, i) => sources[hashString(kafkaKey(l.event)) % n].items.push(i));
  const scorers = Array.from({ length: n }, () => new AddressScorer({ sourcePartitions: n, rules: () => options.rules }));
  const outcomes: Outcome[] = new Array(items.length);
  const verdictLog: Buffer[] = [];
  const message = new AddressMessage();
  const verdict = new VerdictMessage();
  let flags = 0;

  const flush = (p: number) => {
    const s = sources[p];
    const idle = s.at === s.items.length;
    const wm = idle ? idleWatermark(s.state.watermark) : s.state.watermark.current;
    s.join.takeRecords(p, wm, idle).forEach((m, q) => {
      scorers[q].add(message.load(m));
      const v = scorers[q].takeVerdicts(q);
      flags += verdict.load(v).count;
      verdictLog.push(v);
    });
    for (const src of sources) {
      for (let o = src.join.verdicts.cursor; o < verdictLog.length; o++) src.join.readVerdicts(verdictLog[o], o);
      src.join.release(src.state.watermark.current, (r) => (outcomes[src.items[r.offset]] = r.outcome!));
    }
  };

  while (sources.some((s) => s.at < s.items.length || s.join.held.views > 0)) {
    sources.forEach((s, p) => {
      for (const end = Math.min(s.items.length, s.at + batch); s.at < end; s.at++) {
        const e = items[s.items[s.at]].event;
        const r = rawRecord(s.at, e.ts, null);
        r.event = e;
        classifyRecord(r, s.state, VIEW, TIME);
        s.join.join(r);
        if (!r.held) outcomes[s.items[s.at]] = r.outcome!;
      }
      flush(p);
    });
  }
  return { outcomes, flags, tooLate: scorers.reduce((k, s) => k + s.stats.tooLate, 0) };
}
