/**
 * The local cluster's nodes as data: three KRaft Kafka brokers (each also a controller voter) and
 * three Redis Cluster masters, their ports, folders and launch commands. infra/cluster.ts runs them.
 */
import { join } from 'node:path';
import { HOST, envPort } from './infra-paths.ts';

/** How many brokers and how many Redis masters: a majority survives one lost, and every slot has a home. */
export const CLUSTER_SIZE = 3;

/** First ports of each kind; node i (0-based) takes the first port + i. */
export interface ClusterPorts {
  kafka: number;
  kafkaController: number;
  redis: number;
}

/** Defaults beside the single-node services' (19092, 19093, 16379, 18123). */
export const DEFAULT_CLUSTER_PORTS: ClusterPorts = { kafka: 19192, kafkaController: 19195, redis: 16381 };

/** The cluster's first ports: `VT_KAFKA_CLUSTER_PORT`, `VT_KAFKA_CLUSTER_CONTROLLER_PORT`, `VT_REDIS_CLUSTER_PORT`, else the defaults. */
export function clusterPorts(overrides: Partial<ClusterPorts> = {}): ClusterPorts {
  const kafka = overrides.kafka ?? envPort('VT_KAFKA_CLUSTER_PORT') ?? DEFAULT_CLUSTER_PORTS.kafka;
  const explicitKafka = overrides.kafka !== undefined || process.env.VT_KAFKA_CLUSTER_PORT;
  return {
    kafka,
    kafkaController: overrides.kafkaController ?? envPort('VT_KAFKA_CLUSTER_CONTROLLER_PORT') ?? (explicitKafka ? kafka + CLUSTER_SIZE : DEFAULT_CLUSTER_PORTS.kafkaController),
    redis: overrides.redis ?? envPort('VT_REDIS_CLUSTER_PORT') ?? DEFAULT_CLUSTER_PORTS.redis,
  };
}

/** One process of the cluster. */
export interface ClusterNode {
  /** `kafka-1` … `kafka-3`, `redis-cluster-1` … `redis-cluster-3`: its pid, log and data files are named by it. */
  name: string;
  kind: 'kafka' | 'redis';
  /** 1-based, the broker's node.id. */
  id: number;
  port: number;
  /** Kafka only: the controller listener. */
  controllerPort?: number;
}

/** Every node of the cluster. */
export function clusterNodes(ports: ClusterPorts): ClusterNode[] {
  const ids = Array.from({ length: CLUSTER_SIZE }, (_, i) => i);
  return [
    ...ids.map((i) => ({ name: `kafka-${i + 1}`, kind: 'kafka' as const, id: i + 1, port: ports.kafka + i, controllerPort: ports.kafkaController + i })),
    ...ids.map((i) => ({ name: `redis-cluster-${i + 1}`, kind: 'redis' as const, id: i + 1, port: ports.redis + i })),
  ];
}

/** Every port a node listens on: its own, and a broker's controller listener. */
export function nodePorts(n: ClusterNode): number[] {
  return n.controllerPort === undefined ? [n.port] : [n.port, n.controllerPort];
}

/** Where clients find the cluster. */
export interface ClusterAddresses {
  kafka: { brokers: string[] };
  redis: { url: string };
}

/** The cluster's addresses: every broker, and a `redis-cluster://` URL naming every master. */
export function clusterAddresses(ports: ClusterPorts): ClusterAddresses {
  const nodes = clusterNodes(ports);
  return {
    kafka: { brokers: nodes.filter((n) => n.kind === 'kafka').map((n) => `${HOST}:${n.port}`) },
    redis: { url: `redis-cluster://${nodes.filter((n) => n.kind === 'redis').map((n) => `${HOST}:${n.port}`).join(',')}` },
  };
}

/**
 * A broker's server.properties. Topics get three replicas and need two in sync for an acks=all
 * write, so one broker may die; the controller fences a silent broker after 3 s (not 9), which
 * is what moves its partitions' leadership and shrinks their ISR, so a kill -9 stalls producers
 * and consumers for seconds, not for the consumer session timeout. Leadership does not move back
 * by itself to a broker that returns (no automatic preferred-leader election): every move is a
 * window where an idempotent producer can write a batch twice (kafkajs, like librdkafka #4953),
 * and the tests compare topics written at different times, so moves happen only when a broker fails.
 */
export function brokerProperties(node: ClusterNode, all: ClusterNode[], dataDir: string): string {
  const voters = all
    .filter((n) => n.kind === 'kafka')
    .map((n) => `${n.id}@${HOST}:${n.controllerPort}`)
    .join(',');
  return `# written by infra/cluster.ts on every start
process.roles=broker,controller
node.id=${node.id}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://${HOST}:${node.port},CONTROLLER://${HOST}:${node.controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${node.port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=4
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
delete.topic.enable=true
unclean.leader.election.enable=false
auto.leader.rebalance.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
replica.lag.time.max.ms=10000
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=168
log.segment.bytes=268435456
`;
}

/** JVM flags of a broker: three of them share two cores and the other services, so heaps stay small. */
export function brokerJvm(confDir: string, logDir: string): string[] {
  return ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${join(confDir, 'log4j.properties')}`, `-Dkafka.logs.dir=${logDir}`];
}

/**
 * redis-server arguments of a cluster master: AOF on (a kill -9 loses nothing acknowledged, the
 * write is in the kernel before the reply), failure detection in 2 s, and the other masters' slots
 * keep serving while one is down.
 */
export function redisClusterArgs(node: ClusterNode, dataDir: string): string[] {
  return [
    '--port', String(node.port),
    '--bind', HOST,
    '--protected-mode', 'yes',
    '--dir', dataDir,
    '--cluster-enabled', 'yes',
    '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', '2000',
    '--cluster-require-full-coverage', 'no',
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', '',
  ];
}
