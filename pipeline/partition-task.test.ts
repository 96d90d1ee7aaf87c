import { describe, expect, it } from 'vitest';
import { defaultJobConfig } from './config.ts';
import { PartitionTask } from './partition-task.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';

const rules = loadBotRules();
const newTask = () =>
  new PartitionTask({ topic: 't', partition: 0, progressKey: 'k', epoch: 1, config: defaultJobConfig(), partitionCount: 1, botRules: () => rules, livePosition: -1, checkpointOffset: 0 });

describe('PartitionTask checkpoint chain', () => {
  it('stores a snapshot first, then deltas of what changed, and restores the chain to the same state', async () => {
    const task = newTask();
    for (let i = 0; i < 5_000; i++) task.eventIds.set(`e${i}`, 1_000 + i);
    const first = await task.encodeState();
    expect(first.full).toBe(true);
    const chain = [first.bytes];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        task.eventIds.set(`r${round}-${i}`, 10_000 + i);
        task.sessions.set(`v${i}|video`, 10_000 + i);
      }
      task.nextOffset = 100 * (round + 1);
      const link = await task.encodeState();
      expect(link.full).toBe(false);
      // a delta carries the 100 keys set since, not the 5 000 before
      expect(link.bytes.length).toBeLessThan(first.bytes.length / 5);
      chain.push(link.bytes);
    }
    const restored = newTask();
    restored.restore(chain);
    expect(restored.nextOffset).toBe(300);
    expect(restored.snapshot()).toEqual(task.snapshot());
  });

  it('starts a new chain once the deltas weigh as much as the snapshot', async () => {
    const task = newTask();
    for (let i = 0; i < 100; i++) task.eventIds.set(`e${i}`, i);
    let snapshotBytes = (await task.encodeState()).bytes.length;
    let deltaBytes = 0;
    let compactions = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 60; i++) task.eventIds.set(`r${round}-${i}`, 1_000 + i);
      const link = await task.encodeState();
      expect(link.full).toBe(deltaBytes >= snapshotBytes);
      if (link.full) {
        compactions++;
        [snapshotBytes, deltaBytes] = [link.bytes.length, 0];
      } else {
        deltaBytes += link.bytes.length;
      }
    }
    expect(compactions).toBeGreaterThanOrEqual(2);
  });

  it('refuses a chain that does not start with a snapshot', async () => {
    const task = newTask();
    await task.encodeState();
    task.eventIds.set('x', 1);
    const delta = (await task.encodeState()).bytes;
    expect(() => newTask().restore([delta])).toThrow(/start with a full snapshot/);
  });
});
