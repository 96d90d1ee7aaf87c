import { describe, expect, it } from 'vitest';
import { generateLabelledStream, type LabelledEvent, type Population } from '../bench/labelled-stream.ts';
import { loadBotRules } from './bot-rules-source.ts';
import { parseBotRules, type BotRules } from './bot-rules.ts';
import { runTwoStages } from './two-stage-fixture.ts';

const PARTITIONS = 4;

interface Scored {
  item: LabelledEvent;
  verdict: { bot: boolean };
}

/**
 * Runs the stream through both stages (each event in its partition by its Kafka key, its address
 * judged by the address stage) and keeps the views that reached the bot rule, first beacons only.
 */
function scoreStream(items: LabelledEvent[], rules: BotRules): Scored[] {
  const { outcomes } = runTwoStages(items, { partitions: PARTITIONS, rules });
  const seen = new Set<string>();
  return items.flatMap((item, i) => {
    const first = !seen.has(item.event.event_id);
    seen.add(item.event.event_id);
    const reached = item.expected === 'bot' || item.expected === 'counted' || (item.expected === 'duplicate' && first);
    return reached ? [{ item, verdict: { bot: outcomes[i] === 'bot' } }] : [];
  });
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

describe('bot verdicts on a labelled stream (200 000 events, 4 partitions and the address stage, default rules)', () => {
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

  it('owes the carrier-NAT result to the allow list: without it, the address stage judges NAT exits velocity bots', () => {
    const rules = loadBotRules();
    const withoutAllowList = parseBotRules({ ...rules.config, carrierNatCidrs: [] });
    const m = metrics(scoreStream(items, withoutAllowList));
    console.log(`bot scoring without the carrier-NAT allow list: NAT false positives ${(100 * m.natFalsePositiveRate).toFixed(1)} %`);
    expect(m.natFalsePositiveRate).toBeGreaterThan(0.1);
  });
});
