import type { Admin } from 'kafkajs';

/**
 * Whether every partition of `topic` is processed to its end: a partition this worker owns by its
 * own position (`position` gives it), any other by the group's committed offset.
 */
export async function topicDrained(admin: Admin, group: string, topic: string, position: (partition: number) => number | undefined): Promise<boolean> {
  const high = await admin.fetchTopicOffsets(topic);
  const committed = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]?.partitions ?? [];
  return high.every(({ partition, high: h }) => {
    const at = position(partition) ?? Number(committed.find((c) => c.partition === partition)?.offset ?? -1);
    return Number(h) === 0 || at >= Number(h);
  });
}
