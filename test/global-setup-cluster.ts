/**
 * vitest globalSetup of the `cluster` projects: the tests' own services (test/global-setup.ts,
 * for the benchmark's single-node lines) and, in the same folder, a local cluster of their own —
 * three Kafka brokers, a three-master Redis Cluster (ports kept in `.viewtally/test/cluster-ports.json`)
 * and a ClickHouse (`VT_CLUSTER_CLICKHOUSE`). The projects' tests find it through `VT_CLUSTER=1`;
 * what this setup started it stops again.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../infra/free-port.ts';
import { CLUSTER_SIZE, DEFAULT_CLUSTER_PORTS, clusterNodes, nodePorts, type ClusterPorts } from '../infra/cluster-nodes.ts';
import { clusterDown, clusterStatus, clusterUp } from '../infra/cluster.ts';
import { portFree } from '../infra/processes.ts';
import setupServices from './global-setup.ts';
import { useTestServices } from './test-services.ts';
import { addressesFor } from '../infra/infra-paths.ts';

/** Nine ports in a row (brokers, controllers, Redis masters), all free now. */
async function freeRun(): Promise<ClusterPorts> {
  for (;;) {
    const base = await freePort(3 * CLUSTER_SIZE);
    const ports = Array.from({ length: 3 * CLUSTER_SIZE }, (_, i) => base + i);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return { kafka: base, kafkaController: base + CLUSTER_SIZE, redis: base + 2 * CLUSTER_SIZE };
  }
}

/**
 * The ports of the last run while they are free or still ours; new ones otherwise. A cluster that
 * is not up starts empty, as the single-node services do (test/test-services.ts).
 */
async function clusterTestPorts(root: string): Promise<{ ports: ClusterPorts; wasUp: boolean }> {
  const portsFile = join(root, 'cluster-ports.json');
  const saved = existsSync(portsFile) ? (JSON.parse(readFileSync(portsFile, 'utf8')) as ClusterPorts) : null;
  // Up only if a node runs: a cluster.json left behind by a killed run says nothing.
  const wasUp = saved !== null && existsSync(join(root, 'cluster.json')) && (await clusterStatus({ root, ports: saved })).some((n) => n.running);
  if (saved && wasUp) return { ports: saved, wasUp };
  for (const n of clusterNodes(DEFAULT_CLUSTER_PORTS)) rmSync(join(root, 'data', n.name), { recursive: true, force: true });
  rmSync(join(root, 'data', 'kafka-cluster.id'), { force: true });
  if (saved && (await Promise.all(clusterNodes(saved).flatMap(nodePorts).map(portFree))).every(Boolean)) return { ports: saved, wasUp };
  const ports = await freeRun();
  writeFileSync(portsFile, `${JSON.stringify(ports)}\n`);
  return { ports, wasUp: false };
}

export default async function setup(): Promise<() => Promise<void>> {
  const stopServices = await setupServices();
  const root = process.env.VT_INFRA_DIR!;
  // A ClickHouse of the cluster tests' own: the single-node tests that stop theirs run beside them.
  const clickhouse = await useTestServices(join(root, 'cluster-clickhouse'), ['clickhouse']);
  process.env.VT_CLUSTER_CLICKHOUSE = addressesFor(clickhouse.ports).clickhouse.url;
  const { ports, wasUp } = await clusterTestPorts(root);
  Object.assign(process.env, {
    VT_KAFKA_CLUSTER_PORT: String(ports.kafka),
    VT_KAFKA_CLUSTER_CONTROLLER_PORT: String(ports.kafkaController),
    VT_REDIS_CLUSTER_PORT: String(ports.redis),
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await clusterUp({ root, ports, timeoutMs: 240_000, log });
  return async () => {
    if (!wasUp) await clusterDown({ root, ports, log });
    await clickhouse.release();
    await stopServices();
  };
}
