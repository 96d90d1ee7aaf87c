import type { Admin } from 'kafkajs';

/**
 * Whether every partition of `topic` is processed to its end, each by the position `position` gives
 * (a task's own, or the checkpoint in Redis of a partition another member owns: the group's Kafka
 * offsets are not asked, as a commit lost to a broker restart is never made again by an owner with
 * nothing new to checkpoint).
 */
export async function topicDrained(admin: Admin, topic: string, position: (partition: number) => number | Promise<number>): Promise<boolean> {
  for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
    if (Number(high) === 0) continue;
    if ((await position(partition)) < Number(high)) return false;
  }
  return true;
}
