import { loadBotRules } from '../operators/bot-rules-source.ts';
import { generateLabelledStream } from './labelled-stream.ts';
import { benchStreamOptions, type BenchStreamShape } from './bench-stream.ts';
import { botAccuracy, runTwoStages, type BotAccuracy } from './two-stages.ts';

/** The bot verdicts of the benchmark's own stream, and how long deciding them took. */
export interface BenchAccuracy extends BotAccuracy {
  events: number;
  partitions: number;
  seconds: number;
}

/**
 * Decides the benchmark's labelled stream with the job's operators of both stages in memory (one
 * counting and one address partition per topic partition, events by their Kafka key), regenerated
 * from its seed, and scores the verdicts against the labels: the job's sinks keep no label, and a
 * reused topic's `rejected_views` rows may come from other runs.
 */
export function measureBotAccuracy(shape: BenchStreamShape, partitions: number, botRulesPath: string): BenchAccuracy {
  const started = performance.now();
  const run = runTwoStages(generateLabelledStream(benchStreamOptions(shape)).events(), { partitions, rules: loadBotRules(botRulesPath), events: shape.events });
  return { ...botAccuracy(run), events: run.events, partitions, seconds: Math.round((performance.now() - started) / 100) / 10 };
}
