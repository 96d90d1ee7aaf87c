import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to the live counters: one Redis server, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

const CLUSTER_SCHEME = 'redis-cluster://';

/** Whether a Redis address names a cluster (`redis-cluster://host:port[,host:port…]`). */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

/** The seed nodes of a `redis-cluster://` address. */
export function clusterNodes(url: string): { host: string; port: number }[] {
  return url
    .slice(CLUSTER_SCHEME.length)
    .split(',')
    .map((s) => s.trim().replace(/\/.*$/, ''))
    .filter(Boolean)
    .map((hostPort) => {
      const at = hostPort.lastIndexOf(':');
      const port = Number(hostPort.slice(at + 1));
      if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Redis Cluster node ${JSON.stringify(hostPort)} is not host:port`);
      return { host: hostPort.slice(0, at), port };
    });
}

/** Options for {@link createRedisClient}: per-connection settings, and the cluster's own where they differ. */
export interface RedisClientOptions {
  redis?: RedisOptions;
  /** Applied to a Cluster only, beside `redis` for each node's connection. */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * The one way the project connects to Redis: `redis://…` gives a single server, `redis-cluster://…`
 * an ioredis Cluster. Errors surface on commands, so the client's own error events are swallowed.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  let client: RedisClient;
  if (isClusterUrl(url)) {
    const nodes = clusterNodes(url);
    if (nodes.length === 0) throw new Error(`no Redis Cluster node in ${JSON.stringify(url)}`);
    // Queueing and pipelining are the cluster client's business; the rest applies to each node's connection.
    const { enableOfflineQueue, enableAutoPipelining, ...perNode } = options.redis ?? {};
    client = new Cluster(nodes, {
      // A restarted or failed-over master is found again by refreshing the slot map: on a MOVED
      // reply, and every few seconds, since a pipeline that mixes writes does not follow MOVED.
      slotsRefreshTimeout: 2_000,
      slotsRefreshInterval: 5_000,
      retryDelayOnClusterDown: 300,
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
      ...options.cluster,
      redisOptions: perNode,
    });
  } else {
    client = new Redis(url, options.redis ?? {});
  }
  client.on('error', () => {});
  return client;
}

/** Each master of a cluster, or the one server: where a SCAN must run to see every key. */
export function masters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Escapes Redis glob characters, for a MATCH pattern. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Walks the keys matching `match` on one server, a SCAN page at a time; `onKeys` gets every non-empty page. */
export async function scanKeys(node: Redis, match: string, onKeys: (keys: string[]) => Promise<void>, count = 1000): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
    cursor = next;
    if (keys.length > 0) await onKeys(keys);
  } while (cursor !== '0');
}
