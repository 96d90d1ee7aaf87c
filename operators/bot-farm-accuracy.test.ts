import { describe, expect, it } from 'vitest';
import { generateLabelledStream } from '../bench/labelled-stream.ts';
import { botAccuracy, runTwoStages } from '../bench/two-stages.ts';
import { loadBotRules } from './bot-rules-source.ts';

// The view farm of the issue — residential addresses, browser user agents, a fresh session per
// view, ~70 views a minute per address on three videos — beside thousands of people behind one
// carrier NAT, in the whole labelled stream, through both stages (4 partitions each).
describe('bot verdicts on view farms and carrier NAT (labelled stream, 4 partitions and the address stage, default rules)', () => {
  const stream = generateLabelledStream({ seed: 1313, events: 300_000, minutes: 60, mix: { bot_farm: 0.04, human_cgnat: 0.04 } });

  it('catches ≥ 99 % of the farm’s views, flags ≤ 0.1 % of people’s, and keeps whole-stream precision ≥ 99 %, recall ≥ 95 %', () => {
    const a = botAccuracy(runTwoStages(stream.events(), { partitions: 4, rules: loadBotRules() }));
    const cgnat = a.byPopulation.human_cgnat;
    console.log(
      `farm recall ${a.farmRecall.toFixed(4)} of ${a.farmViews}; people flagged ${(100 * a.peopleFlagged).toFixed(3)} % of ${a.peopleViews} (carrier NAT ${cgnat.flagged}/${cgnat.views}); ` +
        `whole stream: precision ${a.precision.toFixed(4)}, recall ${a.recall.toFixed(4)}; counted ${a.counted} of ${a.countedExpected} labelled`,
    );
    expect(a.farmViews).toBeGreaterThan(5_000);
    expect(cgnat.views).toBeGreaterThan(3_000);
    expect(a.farmRecall).toBeGreaterThanOrEqual(0.99);
    expect(a.peopleFlagged).toBeLessThanOrEqual(0.001);
    expect(a.precision).toBeGreaterThanOrEqual(0.99);
    expect(a.recall).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(a.counted - a.countedExpected) / a.countedExpected).toBeLessThanOrEqual(0.001);
  });
});
