import { describe, expect, it } from 'vitest';
import { generateLabelledStream } from '../bench/labelled-stream.ts';
import { botAccuracy, runTwoStages } from '../bench/two-stages.ts';
import { loadBotRules } from './bot-rules-source.ts';
import { parseBotRules } from './bot-rules.ts';

// The default labelled stream through both stages: per-event and viewer-key signals where each
// event is (4 partitions, by the Kafka key), an address's signals in the address stage.
describe('bot verdicts on a labelled stream (200 000 events, 4 partitions and the address stage, default rules)', () => {
  const stream = generateLabelledStream({ seed: 424242, events: 200_000 });

  it('catches the bots (precision ≥ 0.99, recall ≥ 0.95, every kind > 0.9) and leaves carrier-NAT people alone (FP < 1 %)', () => {
    const a = botAccuracy(runTwoStages(stream.events(), { partitions: 4, rules: loadBotRules() }));
    const rows = Object.entries(a.byPopulation).map(([p, c]) => `${p} ${c.flagged}/${c.views}`).join(', ');
    console.log(`bot verdicts: precision ${a.precision.toFixed(4)}, recall ${a.recall.toFixed(4)} over ${a.bots} bot views, carrier-NAT false positives ${(100 * a.natFlagged).toFixed(3)} %; flagged per population: ${rows}`);
    expect(a.precision).toBeGreaterThanOrEqual(0.99);
    expect(a.recall).toBeGreaterThanOrEqual(0.95);
    expect(a.natFlagged).toBeLessThan(0.01);
    expect(a.byPopulation.human_nat.views).toBeGreaterThan(5_000);
    for (const [p, c] of Object.entries(a.byPopulation)) if (p.startsWith('bot_')) expect(c.flagged / c.views, p).toBeGreaterThan(0.9);
  });

  it('owes the carrier-NAT result to the allow list: without it, the address stage judges NAT exits velocity bots', () => {
    const rules = loadBotRules();
    const a = botAccuracy(runTwoStages(stream.events(), { partitions: 4, rules: parseBotRules({ ...rules.config, carrierNatCidrs: [] }) }));
    console.log(`bot verdicts without the carrier-NAT allow list: NAT false positives ${(100 * a.natFlagged).toFixed(1)} %`);
    expect(a.natFlagged).toBeGreaterThan(0.1);
  });
});
