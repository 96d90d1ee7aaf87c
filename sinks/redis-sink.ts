import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { FencedError, SinkUnavailableError } from './sink-errors.ts';
import type { LiveCounts } from '../operators/live-counts.ts';
import type { ClickHouseBlock } from './clickhouse-block.ts';

const COMMIT = readFileSync(new URL('./commit.lua', import.meta.url), 'utf8');

// Clears the pending block only for the owner and only if it is still the same block.
const CLEAR_PENDING = `
if tonumber(redis.call('HGET', ARGV[1], 'epoch') or '0') ~= tonumber(ARGV[2]) then return -1 end
local p = redis.call('HGET', ARGV[1], 'pending')
if p and string.find(p, ARGV[3], 1, true) then redis.call('HSET', ARGV[1], 'pending', '') return 1 end
return 0`;

/**
 * A partition's checkpoint: operator state after everything before `offset` as a chain of gzipped
 * JSON links (a full snapshot, then deltas), and the ClickHouse block not yet known written.
 */
export interface StoredCheckpoint {
  offset: number;
  chain: Buffer[];
  pending: ClickHouseBlock | null;
}

/** What a worker finds when it takes a partition over. */
export interface PartitionClaim {
  /** The assignment epoch this worker now writes under. */
  epoch: number;
  /** Live counters already hold every event before this offset (-1: none). */
  livePosition: number;
  checkpoint: StoredCheckpoint | null;
}

/** A stored state link: gzipped JSON, and whether it starts a new chain (a full snapshot). */
export interface EncodedState {
  full: boolean;
  bytes: Buffer;
}

/** The checkpoint to store with a commit: its state is the chain's next link (or a new chain's snapshot). */
export interface CheckpointWrite {
  offset: number;
  state: EncodedState;
  pending: ClickHouseBlock;
}

/** Redis key holding a partition's progress: epoch, live position, checkpoint. */
export function progressKey(group: string, topic: string, partition: number): string {
  return `vt:ckpt:{${group}/${topic}/${partition}}`;
}

/** The list of checkpoint deltas that follow the snapshot in a progress key's `state`. */
function logKey(key: string): string {
  return `${key}:log`;
}

/** Redis key that, while it exists, holds every claim of the group's partitions back (reconcile --fix). */
export function reconcileLockKey(group: string, topic: string): string {
  return `vt:reconcile:{${group}/${topic}}`;
}

/**
 * Live counters (`vt:views:*`, `vt:uniq:*`) and per-partition progress in Redis. One Lua script
 * applies a flush's increments with the new position and refuses a position it already has, and
 * checks the assignment epoch, so a replay or a fenced worker changes nothing.
 */
export class RedisSink {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Takes a partition over: bumps its epoch (fencing the previous owner) and reads its progress. */
  async claim(key: string, lockKey: string): Promise<PartitionClaim> {
    const locked = await this.guard('claim', () => this.redis.exists(lockKey));
    if (locked) throw new SinkUnavailableError(`reconcile --fix is restoring Redis (${lockKey}); claims wait`);
    await this.guard('claim', () => this.redis.hincrby(key, 'epoch', 1));
    return this.inspect(key);
  }

  /** Reads a partition's progress without taking it over. */
  async inspect(key: string): Promise<PartitionClaim> {
    return this.guard('inspect', async () => {
      // One transaction: a commit between the two reads would pair a snapshot with another chain's deltas.
      const replies = await this.redis.multi().hmgetBuffer(key, 'epoch', 'pos', 'ckpt', 'state', 'pending').lrangeBuffer(logKey(key), 0, -1).exec();
      const failed = replies?.find(([err]) => err !== null);
      if (!replies || failed) throw failed?.[0] ?? new Error('transaction aborted');
      const [epoch, pos, ckpt, state, pending] = replies[0][1] as Array<Buffer | null>;
      const deltas = replies[1][1] as Buffer[];
      const checkpoint =
        ckpt === null
          ? null
          : {
              offset: Number(ckpt.toString()),
              chain: [state!, ...deltas],
              pending: pending !== null && pending.length > 0 ? (JSON.parse(pending.toString('utf8')) as ClickHouseBlock) : null,
            };
      return { epoch: epoch === null ? 0 : Number(epoch.toString()), livePosition: pos === null ? -1 : Number(pos.toString()), checkpoint };
    });
  }

  /**
   * Puts a partition back on `checkpoint` with its live position at the checkpoint, under a new
   * epoch: the owner is fenced, claims again and replays from there, re-adding live increments.
   */
  async reset(key: string, checkpoint: Omit<StoredCheckpoint, 'pending'>): Promise<void> {
    await this.guard('reset', async () => {
      const [snapshot, ...deltas] = checkpoint.chain;
      const reset = this.redis.multi().hincrby(key, 'epoch', 1).hset(key, 'ckpt', String(checkpoint.offset), 'state', snapshot, 'pending', '', 'pos', String(checkpoint.offset)).del(logKey(key));
      if (deltas.length > 0) reset.rpush(logKey(key), ...deltas);
      await reset.exec();
    });
  }

  /** Applies live increments up to offset `to` and, when given, stores a checkpoint; false when already applied. */
  async commit(key: string, epoch: number, to: number, live: LiveCounts, checkpoint?: CheckpointWrite): Promise<boolean> {
    const flat: unknown[] = [];
    for (const [video, c] of live.videos) flat.push(video, c.views, c.viewers);
    const args: (string | Buffer)[] = [key, String(epoch), String(to), flat.length === 0 ? '[]' : JSON.stringify(flat)];
    if (checkpoint) {
      args.push(String(checkpoint.offset), checkpoint.state.bytes, JSON.stringify(checkpoint.pending), checkpoint.state.full ? '1' : '0');
    } else {
      args.push('', '', '', '');
    }
    const result = await this.guard('commit', () => this.redis.eval(COMMIT, 0, ...args) as Promise<number>);
    if (result === -1) throw new FencedError(`partition ${key} now belongs to another worker (epoch ${epoch} is stale)`);
    if (result === -2) throw new FencedError(`partition ${key} has a newer checkpoint than ${checkpoint?.offset}: this worker's chain is stale`);
    return result === 1;
  }

  /** Forgets the pending block once ClickHouse has it. */
  async clearPending(key: string, epoch: number, token: string): Promise<void> {
    const result = await this.guard('clearPending', () => this.redis.eval(CLEAR_PENDING, 0, key, String(epoch), JSON.stringify(token)) as Promise<number>);
    if (result === -1) throw new FencedError(`partition ${key} now belongs to another worker (epoch ${epoch} is stale)`);
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FencedError) throw err;
      throw new SinkUnavailableError(`Redis ${what} failed: ${(err as Error).message}`, err);
    }
  }
}
