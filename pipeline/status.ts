import { AssignerProtocol, type Admin } from 'kafkajs';
import type { RedisClient } from '../sinks/redis-client.ts';
import type { JobConfig } from './config.ts';
import { readStateHead } from './partition-state.ts';
import { RedisSink } from '../sinks/redis-sink.ts';
import { progressKey } from '../sinks/live-counters.ts';

/** One partition at a glance: who owns it, how far behind, how old its checkpoint, where its watermark is. */
export interface PartitionStatus {
  partition: number;
  /** The group member the coordinator assigned it to (the job's Kafka client id: `viewtally-<host>-<pid>`, `-w<n>` for worker thread n), null while unassigned. */
  owner: string | null;
  end: number;
  checkpoint: number | null;
  lag: number;
  live_position: number | null;
  checkpoint_age_s: number | null;
  watermark: string | null;
  epoch: number;
}

/** Which member of the group owns each partition of the topic, by the coordinator's current assignment. */
async function owners(admin: Admin, group: string, topic: string): Promise<Map<number, string>> {
  const owner = new Map<number, string>();
  const { groups } = await admin.describeGroups([group]);
  for (const m of groups[0]?.members ?? []) {
    if (m.memberAssignment.length === 0) continue; // joined, not assigned yet (a rebalance is under way)
    const assigned = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [];
    for (const p of assigned) owner.set(p, m.clientId);
  }
  return owner;
}

/** The job's progress per partition, read from Kafka (ends, group assignment) and the checkpoints in Redis. */
export async function jobStatus(config: JobConfig, admin: Admin, redis: RedisClient): Promise<PartitionStatus[]> {
  const sink = new RedisSink(redis);
  const ends = await admin.fetchTopicOffsets(config.topic);
  const owner = await owners(admin, config.group, config.topic);
  const out: PartitionStatus[] = [];
  for (const { partition, high } of ends.sort((a, b) => a.partition - b.partition)) {
    const key = progressKey(config.group, config.topic, partition);
    const progress = await sink.inspect(key);
    const at = await redis.hget(key, 'ckpt_at');
    const head = progress.checkpoint ? readStateHead(progress.checkpoint.chain[progress.checkpoint.chain.length - 1]) : null;
    const end = Number(high);
    const offset = progress.checkpoint?.offset ?? null;
    out.push({
      partition,
      owner: owner.get(partition) ?? null,
      end,
      checkpoint: offset,
      lag: end - (offset ?? 0),
      live_position: progress.livePosition >= 0 ? progress.livePosition : null,
      checkpoint_age_s: at === null ? null : Math.max(0, Math.round(Date.now() / 1000 - Number(at))),
      watermark: head === null || !Number.isFinite(head.maxEventTs) ? null : new Date(head.maxEventTs - config.time.outOfOrdernessMs).toISOString(),
      epoch: progress.epoch,
    });
  }
  return out;
}
