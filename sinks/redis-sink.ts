import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-client.ts';
import { counterLayout, uniqKey, viewsKeyPrefix, type CounterLayout } from './live-counters.ts';
import { readLivePayload } from '../operators/live-counts.ts';
import { forEachLedgerGroup } from '../operators/provisional-ledger.ts';
import { FencedError, SinkUnavailableError } from './sink-errors.ts';
import { decodeBlock, encodeBlock, pendingPrefix, type ClickHouseBlock } from './clickhouse-block.ts';
import { redisErrorIsRetriable } from './redis-errors.ts';
import { ViewtallyError } from '../schemas/errors.ts';

const COMMIT = readFileSync(new URL('./commit.lua', import.meta.url), 'utf8');

// Clears the pending block only for the owner and only if it is still the same block (it starts with its token).
const CLEAR_PENDING = `
if tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0') ~= tonumber(ARGV[1]) then return -1 end
local p = redis.call('HGET', KEYS[1], 'pending')
if p and string.sub(p, 1, #ARGV[2]) == ARGV[2] then redis.call('HSET', KEYS[1], 'pending', '') return 1 end
return 0`;

// Most viewers one PFADD carries.
const PFADD_CHUNK = 1000;

/** A snapshot is stored in chunks of this size: no single Redis value or command carries a whole large state. */
const CHUNK_BYTES = 1 << 20;
/** A staged snapshot its writer never committed (it crashed or was fenced) expires. */
const STAGED_TTL_S = 3600;

/**
 * A partition's checkpoint: operator state after everything before `offset` as a chain of binary
 * links (a snapshot, then changes), and the ClickHouse block not yet known written.
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
  /** The corrections of every address-verdict message before this offset are applied. */
  verdictPosition: number;
  checkpoint: StoredCheckpoint | null;
}

/**
 * What a live flush writes beside the increments (see commit.lua): the ledger of provisionally
 * counted views, the corrections of address flags read since the last flush, how far the verdict
 * topic has been read, and the ledger steps whose verdicts are all in.
 */
export interface ProvisionalWrite {
  /** Per (verdict step, address) and video, the flush's provisionally counted views (ProvisionalLedger). */
  ledger: Buffer;
  /** The steps flags read since the last flush cover, each with its verdict-topic offset (AddressVerdicts). */
  corrections: Buffer;
  /** Every verdict-topic offset below this has been read. */
  verdictsTo: number;
  /** Ledger steps (index) below this have all their verdicts: what is left there stands. */
  dropBelow: number;
}

/** What a commit did: whether its increments were new, and how many provisional views its corrections took back. */
export interface CommitResult {
  applied: boolean;
  takenBack: number;
}

/** A stored state link, and whether it starts a new chain (a snapshot). */
export interface EncodedState {
  full: boolean;
  bytes: Buffer;
}

/** The newest link of a stored chain, as written. */
export function newestLink(chain: readonly Buffer[]): EncodedState {
  return { full: chain.length === 1, bytes: chain[chain.length - 1] };
}

/** The checkpoint to store with a commit: its state is the chain's next link (or a new chain's snapshot). */
export interface CheckpointWrite {
  offset: number;
  state: EncodedState;
  pending: ClickHouseBlock;
}

/** Redis key that, while it exists, holds every claim of the group's partitions back (reconcile --fix). */
export function reconcileLockKey(group: string, topic: string): string {
  return `vt:reconcile:{${group}/${topic}}`;
}

// The lists beside a progress key: the chain's snapshot (in chunks), its changes, and a snapshot being staged.
const snapKey = (key: string) => `${key}:snap`;
const logKey = (key: string) => `${key}:log`;
const stagedKey = (key: string, epoch: number) => `${key}:snap:${epoch}`;
// The provisional ledger beside it (commit.lua): its verdict steps, and each step's address → views per video.
const ledgerKey = (key: string) => `${key}:ledger`;
const ledgerStepKey = (key: string, step: number) => `${key}:ledger:${step}`;

/** A byte string in chunks of at most CHUNK_BYTES. */
function chunks(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) out.push(bytes.subarray(at, at + CHUNK_BYTES));
  return out.length > 0 ? out : [bytes];
}

/**
 * Live counters and per-partition progress in Redis, one server or a Cluster (key layouts in
 * live-counters.ts). One Lua script, on the partition's slot, applies a flush's increments with
 * the new position and refuses a position it already has, and checks the assignment epoch, so a
 * replay or a fenced worker changes nothing. On a cluster the unique viewers, whose keys lie in
 * other slots, are added just before it: adding a viewer again is a no-op, so a crash between the
 * two only repeats them.
 */
export class RedisSink {
  private readonly redis: RedisClient;
  private readonly layout: CounterLayout;

  constructor(redis: RedisClient) {
    this.redis = redis;
    this.layout = counterLayout(redis);
  }

  /** Takes a partition over: bumps its epoch (fencing the previous owner) and reads its progress. */
  async claim(key: string, lockKey: string): Promise<PartitionClaim> {
    const locked = await this.guard('claim', () => this.redis.exists(lockKey));
    if (locked) throw new SinkUnavailableError(`reconcile --fix is restoring Redis (${lockKey}); claims wait`);
    await this.guard('claim', () => this.redis.hincrby(key, 'epoch', 1));
    return this.inspect(key);
  }

  /** The offset of a partition's checkpoint (-1: none), without its state. */
  async checkpointOffset(key: string): Promise<number> {
    const ckpt = await this.guard('checkpoint offset', () => this.redis.hget(key, 'ckpt'));
    return ckpt === null ? -1 : Number(ckpt);
  }

  /** Reads a partition's progress without taking it over. */
  async inspect(key: string): Promise<PartitionClaim> {
    return this.guard('inspect', async () => {
      // One transaction: a commit between the reads would pair a snapshot with another chain's changes.
      const replies = await this.redis
        .multi()
        .hmgetBuffer(key, 'epoch', 'pos', 'ckpt', 'state', 'pending', 'vpos')
        .lrangeBuffer(snapKey(key), 0, -1)
        .lrangeBuffer(logKey(key), 0, -1)
        .exec();
      const failed = replies?.find(([err]) => err !== null);
      if (!replies || failed) throw failed?.[0] ?? new Error('transaction aborted');
      const [epoch, pos, ckpt, legacyState, pending, vpos] = replies[0][1] as Array<Buffer | null>;
      const snapshot = replies[1][1] as Buffer[];
      const changes = replies[2][1] as Buffer[];
      // A chain written by the previous version kept its snapshot in the hash: restoring it explains what to do.
      const first = snapshot.length > 0 ? Buffer.concat(snapshot) : legacyState;
      const checkpoint =
        ckpt === null || first === null
          ? null
          : { offset: Number(ckpt.toString()), chain: [first, ...changes], pending: pending !== null && pending.length > 0 ? decodeBlock(pending) : null };
      return {
        epoch: epoch === null ? 0 : Number(epoch.toString()),
        livePosition: pos === null ? -1 : Number(pos.toString()),
        verdictPosition: vpos === null ? 0 : Number(vpos.toString()),
        checkpoint,
      };
    });
  }

  /** Bumps a partition's epoch: its owner can write nothing more for it until it claims it again. */
  async fence(key: string): Promise<void> {
    await this.guard('fence', () => this.redis.hincrby(key, 'epoch', 1));
  }

  /** Puts a partition without a checkpoint back on nothing counted, under a new epoch: its owner, fenced, replays it all. */
  async forget(key: string): Promise<void> {
    await this.guard('forget', () => this.redis.multi().hincrby(key, 'epoch', 1).hdel(key, 'pos').exec());
  }

  /**
   * Puts a partition back on `checkpoint` with its live position at the checkpoint, under a new
   * epoch: the owner is fenced, claims again and replays from there, re-adding live increments. The
   * provisional ledger becomes `ledger`, that of the checkpoint's provisional views (the live counts
   * are set afresh with them in), and the verdicts applied go back to none: the owner reads them
   * again from its checkpoint's place, so a flag read after it still takes those views back.
   */
  async reset(key: string, checkpoint: Omit<StoredCheckpoint, 'pending'>, ledger: Buffer = Buffer.alloc(0)): Promise<void> {
    await this.guard('reset', async () => {
      const [snapshot, ...changes] = checkpoint.chain;
      const steps = await this.redis.zrange(ledgerKey(key), '0', '-1');
      const reset = this.redis
        .multi()
        .hincrby(key, 'epoch', 1)
        .hset(key, 'ckpt', String(checkpoint.offset), 'pending', '', 'pos', String(checkpoint.offset))
        .hdel(key, 'state', 'vpos')
        .del(snapKey(key), logKey(key), ledgerKey(key), ...steps.map((step) => ledgerStepKey(key, Number(step))))
        .rpush(snapKey(key), ...chunks(snapshot));
      if (changes.length > 0) reset.rpush(logKey(key), ...changes);
      forEachLedgerGroup(ledger, (step, address, entries) => {
        reset.hset(ledgerStepKey(key, step), address, entries);
        reset.zadd(ledgerKey(key), step, String(step));
      });
      await reset.exec();
    });
  }

  /**
   * Applies live increments up to offset `to` (the payload of LiveCounts.write) with their
   * provisional ledger, the corrections, and, when given, stores a checkpoint. A snapshot is staged
   * in chunks first, then moved into place by the same script that applies the increments.
   */
  async commit(key: string, epoch: number, to: number, live: Buffer, checkpoint?: CheckpointWrite, provisional?: ProvisionalWrite): Promise<CommitResult> {
    if (checkpoint?.state.full) {
      const staged = stagedKey(key, epoch);
      await this.guard('stage snapshot', () =>
        this.redis
          .multi()
          .del(staged)
          .rpush(staged, ...chunks(checkpoint.state.bytes))
          .expire(staged, STAGED_TTL_S)
          .exec(),
      );
    }
    const args: (string | Buffer)[] = [viewsKeyPrefix(this.layout, key), String(epoch), String(to), live];
    if (checkpoint) args.push(String(checkpoint.offset), checkpoint.state.full ? '' : checkpoint.state.bytes, encodeBlock(checkpoint.pending), checkpoint.state.full ? '1' : '0');
    else args.push('', '', '', '');
    args.push(this.layout === 'single' ? uniqKey('') : '');
    if (provisional) args.push(provisional.ledger, provisional.corrections, String(provisional.verdictsTo), String(provisional.dropBelow));
    else args.push('', '', '', '-1');
    const result = await this.guard('commit', async () => {
      if (this.layout === 'sharded') await this.addViewers(live);
      return (await this.redis.eval(COMMIT, 1, key, ...args)) as number | [number, number];
    });
    if (result === -1) throw new FencedError(`partition ${key} now belongs to another worker (epoch ${epoch} is stale)`);
    if (result === -2) throw new FencedError(`partition ${key} has a newer checkpoint than ${checkpoint?.offset}: this worker's chain is stale`);
    if (result === -3) throw new SinkUnavailableError(`partition ${key}: the staged snapshot is gone (expired or replaced); the checkpoint is retried`);
    const [applied, takenBack] = result as [number, number];
    return { applied: applied === 1, takenBack };
  }

  /** Forgets the pending block once ClickHouse has it. */
  async clearPending(key: string, epoch: number, block: ClickHouseBlock): Promise<void> {
    const result = await this.guard('clearPending', () => this.redis.eval(CLEAR_PENDING, 1, key, String(epoch), pendingPrefix(block)) as Promise<number>);
    if (result === -1) throw new FencedError(`partition ${key} now belongs to another worker (epoch ${epoch} is stale)`);
  }

  /** PFADDs a flush's viewers into each video's HyperLogLog, all sent at once. */
  private async addViewers(live: Buffer): Promise<void> {
    const adds: Promise<number>[] = [];
    readLivePayload(live, (video, viewers) => {
      for (let i = 0; i < viewers.length; i += PFADD_CHUNK) adds.push(this.redis.pfadd(uniqKey(video), ...viewers.slice(i, i + PFADD_CHUNK)));
    });
    await Promise.all(adds);
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FencedError) throw err;
      if (!redisErrorIsRetriable(err)) {
        // A script that fails half-way keeps the writes it made: a restart would add those increments again.
        throw new ViewtallyError(`Redis refused the ${what} (${(err as Error).message}); no retry can help: fix the cause, run \`viewtally reconcile --fix\`, then start the job again`, { cause: err });
      }
      throw new SinkUnavailableError(`Redis ${what} failed: ${(err as Error).message}`, err);
    }
  }
}
