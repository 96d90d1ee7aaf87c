import type { ClickHouseClient } from '@clickhouse/client';
import { renderStatement } from '../clickhouse/migrations.ts';
import type { ClusterTarget } from '../clickhouse/cluster-schema.ts';
import type { CheckpointCopy } from './clickhouse-block.ts';

/** How often a job deletes the copies its snapshots made obsolete: ClickHouse runs each delete as a mutation, so they are batched. */
export const COPY_PRUNE_INTERVAL_MS = 30_000;

/**
 * The delete of every copy of a partition below the offset of its latest landed snapshot (a
 * partition not in the map reads 0 and loses nothing); on a cluster, of the shard tables.
 */
export function obsoleteCopiesDelete(cluster: ClusterTarget | null): string[] {
  return renderStatement(
    `DELETE FROM job_checkpoints WHERE group_id = {group:String} AND topic = {topic:String}
       AND partition IN mapKeys({snapshots:Map(UInt32, UInt64)}) AND offset < {snapshots:Map(UInt32, UInt64)}[partition]`,
    cluster,
  );
}

/** What a pruner needs: where the table lives, how often it may delete, the clock, and where its failures go. */
export interface CopyPrunerOptions {
  cluster: ClusterTarget | null;
  intervalMs: number;
  now: () => number;
  onError: (err: Error) => void;
}

/**
 * Deletes the checkpoint copies no chain needs. Once a partition's snapshot copy has landed, every
 * copy of that partition at a lower offset is behind its latest chain (`latestCheckpointCopy` reads
 * from the latest snapshot on), so a partition keeps one chain and what its last interval wrote,
 * however long it runs or idles. A TTL would not do: it also expires the only chain of a partition
 * idle that long. Deletes are lightweight (rows masked at once, dropped at the next merge), not
 * waited for, and batched: one statement per interval for every partition with a newer snapshot.
 */
export class CopyPruner {
  /** The latest landed snapshot offset of each partition not pruned yet, by group and topic. */
  private readonly due = new Map<string, { group: string; topic: string; snapshots: Map<number, number> }>();
  private readonly statements: string[];
  private lastPrune = -Infinity;
  private running: Promise<void> | null = null;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: CopyPrunerOptions,
  ) {
    this.statements = obsoleteCopiesDelete(options.cluster);
  }

  /** Notes a copy that landed; a snapshot makes its partition's earlier copies obsolete, deleted when a prune is due. */
  landed(copy: CheckpointCopy): void {
    if (copy.full !== 1) return;
    this.note(copy.group_id, copy.topic, copy.partition, copy.offset);
    if (this.running === null && this.options.now() - this.lastPrune >= this.options.intervalMs) {
      this.running = this.prune()
        .catch((err: Error) => this.options.onError(err))
        .finally(() => (this.running = null));
    }
  }

  /** Deletes, for every partition noted, its copies below its latest landed snapshot; a failed scope stays due. */
  async prune(): Promise<void> {
    this.lastPrune = this.options.now();
    for (const [key, scope] of [...this.due]) {
      this.due.delete(key);
      try {
        for (const query of this.statements) {
          await this.client.command({
            query,
            query_params: { group: scope.group, topic: scope.topic, snapshots: scope.snapshots },
            clickhouse_settings: { lightweight_deletes_sync: '0' },
          });
        }
      } catch (err) {
        // Put back: snapshots noted meanwhile are newer, and win.
        for (const [partition, offset] of scope.snapshots) this.note(scope.group, scope.topic, partition, offset);
        throw err;
      }
    }
  }

  /** Marks a partition due for a prune below `offset`, or below the later snapshot it is due for already. */
  private note(group: string, topic: string, partition: number, offset: number): void {
    const key = `${group}\u0000${topic}`;
    let scope = this.due.get(key);
    if (scope === undefined) this.due.set(key, (scope = { group, topic, snapshots: new Map() }));
    scope.snapshots.set(partition, Math.max(offset, scope.snapshots.get(partition) ?? 0));
  }
}
