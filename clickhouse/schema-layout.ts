/**
 * Which rendering of the schema a ClickHouse database holds (cluster-schema.ts), as the job and
 * reconcile need to know it: on a cluster every block of a Kafka partition goes to one shard.
 */
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { ClusterTarget } from './cluster-schema.ts';

/** A cluster schema as found in a database: its target and how many shards the cluster has. */
export interface ClusterLayout extends ClusterTarget {
  shards: number;
}

/** The cluster and database a Distributed table's `engine_full` names, or null for any other engine. */
export function parseDistributedEngine(engineFull: string): ClusterTarget | null {
  const m = /^Distributed\('([^']+)',\s*'([^']+)'/.exec(engineFull);
  return m ? { cluster: m[1], database: m[2] } : null;
}

/**
 * The cluster the schema of the client's database was rendered for, or null for a single server
 * (also when there is no schema yet: `viewtally migrate --cluster NAME` comes first on a cluster).
 */
export async function readClusterLayout(client: ClickHouseClient): Promise<ClusterLayout | null> {
  const [table] = await (
    await client.query({
      query: `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'views_minute_rows'`,
      format: 'JSONEachRow',
    })
  ).json<{ engine_full: string }>();
  const target = table ? parseDistributedEngine(table.engine_full) : null;
  if (target === null) return null;
  const [row] = await (
    await client.query({
      query: 'SELECT uniqExact(shard_num) AS shards FROM system.clusters WHERE cluster = {cluster:String}',
      query_params: { cluster: target.cluster },
      format: 'JSONEachRow',
    })
  ).json<{ shards: string }>();
  const shards = Number(row?.shards ?? 0);
  if (shards < 1) throw new Error(`the schema names cluster ${target.cluster}, which this server does not know (system.clusters)`);
  return { ...target, shards };
}

/**
 * The insert settings of each Kafka partition's blocks: none on one server; on a cluster, all of a
 * partition's blocks go to one shard, synchronously (as `insert_shard_id` does), on a majority of
 * its replicas. One block then is one local insert on one shard: its deduplication token and its
 * landed marker live where its rows do (Keeper keeps the token for every replica of the shard), and
 * a re-sent block goes to the same place. The quorum makes "landed" mean "survives a replica's
 * loss": the marker and the rows share each replica's fate.
 */
export function insertRouting(layout: ClusterLayout | null): (partition: number) => ClickHouseSettings {
  if (layout === null) return () => ({});
  return (partition) => ({ insert_shard_id: String(1 + (partition % layout.shards)), insert_quorum: 'auto' });
}
