import { describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { ensureJobTopics } from './topic.ts';
import { addressVerdictsTopic, byAddressTopic } from '../schemas/address-messages.ts';

describe("the job's internal topics", () => {
  it('are named by the group as well as the topic, so two jobs on one topic never share them', () => {
    expect([byAddressTopic('view-events', 'a'), addressVerdictsTopic('view-events', 'a')]).toEqual(['view-events.a.by-address', 'view-events.a.address-verdicts']);
    expect(byAddressTopic('view-events', 'a')).not.toBe(byAddressTopic('view-events', 'b'));
  });

  it('refuses a group that cannot name a topic before asking Kafka anything, saying which characters it may hold', async () => {
    const untouched = new Proxy(
      {},
      {
        get() {
          throw new Error('Kafka was asked');
        },
      },
    ) as Admin;
    await expect(ensureJobTopics(untouched, 'view-events', 'creators/eu west', 4)).rejects.toThrow(/cannot name the job's internal topic "view-events\.creators\/eu west\.by-address".*letters, digits, '\.', '_' and '-'/);
    await expect(ensureJobTopics(untouched, 'view-events', 'g'.repeat(240), 4)).rejects.toThrow(/at most 249/);
  });
});
