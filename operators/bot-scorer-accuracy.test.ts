import { describe, expect, it } from 'vitest';
import { generateLabelledStream, requiredWatchMs, type LabelledEvent, type Population } from '../bench/labelled-stream.ts';
import { hashString } from '../bench/labelled-stream-random.ts';
import { kafkaKey, viewerKey } from '../schemas/viewer-key.ts';
import { loadBotRules } from './bot-rules-source.ts';
import { parseBotRules, type BotRules } from './bot-rules.ts';
import { createBotScorer, type BotVerdict } from './bot-scorer.ts';
import { FINGERPRINTS, score } from './bot-scorer-fixtures.ts';

const PARTITIONS = 4;
const RULES = { minWatchMs: 30_000, minWatchFraction: 0.5, sessionWindowMs: 30 * 60_000 };

interface Scored {
  item: LabelledEvent;
  verdict: BotVerdict;
}

/**
 * Runs the rules that come before the bot rule (not_a_view, event-id duplicate, owner, too_short)
 * and scores what is left, one scorer per partition, each event in its partition by its Kafka key.
 */
function scoreStream(items: Iterable<LabelledEvent>, rules: BotRules): Scored[] {
  const scorers = Array.from({ length: PARTITIONS }, () => createBotScorer({ partitionCount: PARTITIONS, rules: () => rules, watch: RULES, fingerprints: FINGERPRINTS }));
  const seen = new Set<string>();
  const out: Scored[] = [];
  for (const item of items) {
    const e = item.event;
    if (e.event_type !== 'view' || seen.has(e.event_id)) continue;
    seen.add(e.event_id);
    if (e.owner_id !== null && e.owner_id === e.viewer_id) continue;
    if (e.watch_ms < requiredWatchMs(e.video_duration_ms, RULES)) continue;
    out.push({ item, verdict: score(scorers[hashString(kafkaKey(e)) % PARTITIONS], e, viewerKey(e)) });
  }
  return out;
}

function metrics(scored: Scored[]) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let nat = 0;
  let natFlagged = 0;
  const byPopulation = new Map<Population, { events: number; flagged: number }>();
  for (const { item, verdict } of scored) {
    const isBot = item.population.startsWith('bot_');
    // Every bot event that reaches the bot rule is labelled `bot`, and nothing else is.
    expect(item.expected === 'bot').toBe(isBot);
    if (isBot && verdict.bot) tp++;
    else if (isBot) fn++;
    else if (verdict.bot) fp++;
    if (item.population === 'human_nat') {
      nat++;
      if (verdict.bot) natFlagged++;
    }
    const p = byPopulation.get(item.population) ?? { events: 0, flagged: 0 };
    p.events++;
    if (verdict.bot) p.flagged++;
    byPopulation.set(item.population, p);
  }
  return { precision: tp / (tp + fp), recall: tp / (tp + fn), natFalsePositiveRate: natFlagged / nat, natEvents: nat, bots: tp + fn, byPopulation };
}

describe('bot scorer on a labelled stream (200 000 events, 4 partitions, default rules)', () => {
  const stream = generateLabelledStream({ seed: 424242, events: 200_000 });
  const items = stream.toArray();

  it('catches the bots (precision ≥ 0.99, recall ≥ 0.95) and leaves carrier-NAT people alone (FP < 1 %)', () => {
    const m = metrics(scoreStream(items, loadBotRules()));
    const rows = [...m.byPopulation].map(([p, c]) => `${p} ${c.flagged}/${c.events}`).join(', ');
    console.log(
      `bot scoring: precision ${m.precision.toFixed(4)}, recall ${m.recall.toFixed(4)} over ${m.bots} bot views, ` +
        `carrier-NAT false positives ${(100 * m.natFalsePositiveRate).toFixed(3)} % of ${m.natEvents} views; flagged per population: ${rows}`,
    );
    expect(m.precision).toBeGreaterThanOrEqual(0.99);
    expect(m.recall).toBeGreaterThanOrEqual(0.95);
    expect(m.natFalsePositiveRate).toBeLessThan(0.01);
    expect(m.natEvents).toBeGreaterThan(5_000);
    // Each kind of bot is caught, not just the easy ones.
    for (const [p, c] of m.byPopulation) if (p.startsWith('bot_')) expect(c.flagged / c.events, p).toBeGreaterThan(0.9);
  });

  it('owes the carrier-NAT result to the allow list: without it, NAT exits look like velocity bots', () => {
    const rules = loadBotRules();
    const withoutAllowList = parseBotRules({ ...rules.config, carrierNatCidrs: [] });
    const m = metrics(scoreStream(items, withoutAllowList));
    console.log(`bot scoring without the carrier-NAT allow list: NAT false positives ${(100 * m.natFalsePositiveRate).toFixed(1)} %`);
    expect(m.natFalsePositiveRate).toBeGreaterThan(0.1);
  });
});
