import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, sinkClients } from './harness.ts';
import { createTopic, expectEnded, expectExactCounts, runPoisonScenario, runUntilIdle, type PoisonRun } from './poison-input.ts';

// A poison record the job cannot skip. This file runs alone (vitest project `exclusive`):
// `reconcile --fix` rewrites every live counter of a single Redis from ClickHouse, which would
// undo the counts of jobs of other files running beside it.
describe('a poison record that cannot be skipped', () => {
  const sinks = sinkClients();

  // Where skipping would lose counted views, the job stops with a message that names the cause and
  // the way back; following it gives exact counts.
  describe('a live counter Redis refuses to increment', () => {
    let s: PoisonRun;
    let poisoned: string;
    let after: { code: number | null; log: string };

    beforeAll(async () => {
      s = await runPoisonScenario({
        topic: await createTopic('poison-redis', 2),
        partitions: 2,
        seed: 18,
        valid: 1_000,
        hostile: () => [],
        beforeRun: async (truth) => {
          poisoned = `vt:views:${[...truth.countedByVideo.keys()][0]}`;
          await sinks.rd.set(poisoned, 'not-a-count');
        },
      });
      await sinks.rd.del(poisoned);
      await runCli(['reconcile', '--fix', '--topic', s.topic, '--group', s.topic]);
      after = await runUntilIdle(s.topic);
    });

    it('stops the job, without retrying, with a message that says why and what to do', () => {
      expect(s.run.code, s.run.log.slice(-3000)).toBe(1);
      expect(s.run.log).toMatch(/"level":50,.*"msg":"redis (live flush|checkpoint) failed for good; the job stops"/);
      expect(s.run.log).toMatch(/viewtally: Redis refused the commit \(.*not an integer.*\); no retry can help: fix the cause, run `viewtally reconcile --fix`/);
      // Other calls may retry while the workers stop (their connections close); the refusal itself never is.
      expect(s.run.log.split('\n').filter((l) => l.includes('failed; retrying') && l.includes('not an integer'))).toEqual([]);
    });

    it('counts exactly once the cause is fixed and reconcile --fix has run', async () => {
      expectEnded(after);
      await expectExactCounts(sinks.ch, sinks.rd, s.topic, s.prefix, s.truth);
    });
  });
});
