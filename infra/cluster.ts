/**
 * `viewtally infra up --cluster`: beside the single-node services, three KRaft Kafka brokers and a
 * three-master Redis Cluster as local processes (nodes and settings in cluster-nodes.ts). Files
 * live in the same infra folder: `run/<node>.pid`, `logs/<node>.log`, `data/<node>/`,
 * `conf/<node>/`, and `cluster.json` with the addresses once everything answers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { infraRoot, resolveConfig, type InfraConfig, type InfraOptions } from './infra-paths.ts';
import { withLock } from './infra-lock.ts';
import { kafkaClusterId, kafkaLog4jProperties } from './kafka-config.ts';
import { ensureKafkaLibs } from './kafka-libs.ts';
import { commandExists, spawnDetached, startBroker, tail } from './launch.ts';
import { isAlive, portFree, sleep, stopPid } from './processes.ts';
import { brokerJvm, brokerProperties, clusterAddresses, clusterNodes, clusterPorts, nodePorts, redisClusterArgs, type ClusterAddresses, type ClusterNode, type ClusterPorts } from './cluster-nodes.ts';

/** Options of the cluster commands. */
export interface ClusterOptions extends Pick<InfraOptions, 'root' | 'timeoutMs' | 'log'> {
  ports?: Partial<ClusterPorts>;
}

/** One node as `infra status` shows it. */
export interface ClusterNodeStatus {
  service: string;
  running: boolean;
  pid: number | null;
  address: string;
  ok: boolean;
  log: string;
}

interface Cluster {
  cfg: InfraConfig;
  ports: ClusterPorts;
  nodes: ClusterNode[];
}

function resolveCluster(o: ClusterOptions): Cluster {
  const ports = clusterPorts(o.ports);
  return { cfg: resolveConfig({ root: o.root }), ports, nodes: clusterNodes(ports) };
}

const pidFile = (c: Cluster, n: ClusterNode) => join(c.cfg.runDir, `${n.name}.pid`);
const logFile = (c: Cluster, n: ClusterNode) => join(c.cfg.logDir, `${n.name}.log`);
const dataDir = (c: Cluster, n: ClusterNode) => join(c.cfg.dataDir, n.name);
const confDir = (c: Cluster, n: ClusterNode) => join(c.cfg.confDir, n.name);

/** The node's running process: its pid file's pid, if that process is still this node (a broker by its config in the command line). */
function runningPid(c: Cluster, n: ClusterNode): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(c, n), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (n.kind === 'kafka' ? cmd.includes(join(confDir(c, n), 'server.properties')) : cmd.includes('redis-server')) return pid;
  } catch {
    /* gone */
  }
  return null;
}

/** The id every broker of the cluster is formatted with, kept beside their data. */
function clusterId(c: Cluster): string {
  const file = join(c.cfg.dataDir, 'kafka-cluster.id');
  if (!existsSync(file)) writeFileSync(file, `${kafkaClusterId()}\n`);
  return readFileSync(file, 'utf8').trim();
}

function launchNode(c: Cluster, n: ClusterNode, log: (l: string) => void): number {
  const data = dataDir(c, n);
  const lf = logFile(c, n);
  mkdirSync(data, { recursive: true });
  writeFileSync(lf, `\n===== ${new Date().toISOString()} starting ${n.name} (infra/cluster.ts) =====\n`, { flag: 'a' });
  if (n.kind === 'redis') {
    if (!commandExists('redis-server')) throw new Error('infra: redis-server is not installed; run `bash infra/setup.sh`');
    return spawnDetached('redis-server', redisClusterArgs(n, data), data, lf);
  }
  ensureKafkaLibs(c.cfg.kafkaLibs, log);
  const conf = confDir(c, n);
  mkdirSync(conf, { recursive: true });
  const props = join(conf, 'server.properties');
  writeFileSync(props, brokerProperties(n, c.nodes, data));
  writeFileSync(join(conf, 'log4j.properties'), kafkaLog4jProperties(lf));
  return startBroker({ jvm: brokerJvm(conf, c.cfg.logDir), kafkaLibs: c.cfg.kafkaLibs, props, dataDir: data, clusterId: () => clusterId(c), cwd: c.cfg.root, log: lf });
}

/** How many brokers the cluster's controller has registered, asked through `brokers`; 0 when none answers. */
async function brokersRegistered(brokers: string[], timeoutMs: number): Promise<number> {
  const admin = new Kafka({ clientId: 'viewtally-infra', brokers, connectionTimeout: timeoutMs, requestTimeout: timeoutMs, retry: { retries: 0 }, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.controller === null ? 0 : cluster.brokers.length;
  } catch {
    return 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** A Redis node's `CLUSTER INFO` as a map, or null when it does not answer (or is still loading its AOF). */
async function redisClusterInfo(port: number, timeoutMs: number): Promise<Map<string, string> | null> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    if (!/\bloading:0\b/.test(await r.info('persistence'))) return null;
    const text = (await r.call('CLUSTER', 'INFO')) as string;
    return new Map(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string]));
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

/** A broker answers and is registered; a Redis master answers with its cluster state ok. */
async function nodeOk(n: ClusterNode, timeoutMs: number): Promise<boolean> {
  if (n.kind === 'kafka') return (await brokersRegistered([`127.0.0.1:${n.port}`], timeoutMs)) > 0;
  return (await redisClusterInfo(n.port, timeoutMs))?.get('cluster_state') === 'ok';
}

/** Assigns the slots once, on three fresh masters; a cluster that has its slots forms again by itself after a restart. */
async function createRedisCluster(c: Cluster, log: (l: string) => void): Promise<void> {
  const masters = c.nodes.filter((n) => n.kind === 'redis');
  const infos = await Promise.all(masters.map((n) => redisClusterInfo(n.port, 2000)));
  if (infos.some((i) => i === null)) return; // still starting: the wait in clusterUp comes back here
  if (infos.every((i) => Number(i!.get('cluster_slots_assigned') ?? 0) === 0)) {
    log(`infra: creating the Redis Cluster on ${masters.map((n) => n.port).join(', ')}`);
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...masters.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`infra: redis-cli --cluster create failed: ${`${r.stdout}\n${r.stderr}`.trim().slice(-2000)}`);
  }
}

/** Starts every cluster node that is not running, creates the Redis Cluster on first start, waits until all answer, writes cluster.json. */
export async function clusterUp(o: ClusterOptions = {}): Promise<ClusterAddresses> {
  const c = resolveCluster(o);
  const log = o.log ?? (() => {});
  const timeoutMs = o.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  for (const d of [c.cfg.root, c.cfg.runDir, c.cfg.logDir, c.cfg.dataDir, c.cfg.confDir]) mkdirSync(d, { recursive: true });
  const addresses = clusterAddresses(c.ports);
  return withLock(c.cfg, timeoutMs, async () => {
    for (const n of c.nodes) {
      if (runningPid(c, n) !== null) continue;
      for (const port of nodePorts(n)) {
        if (!(await portFree(port))) throw new Error(`infra: cannot start ${n.name}: port 127.0.0.1:${port} is used by another process; choose other ports (VT_*_CLUSTER_PORT)`);
      }
      log(`infra: starting ${n.name} on 127.0.0.1:${n.port} (log ${logFile(c, n)})`);
      writeFileSync(pidFile(c, n), `${launchNode(c, n, log)}\n`);
    }
    const brokers = c.nodes.filter((n) => n.kind === 'kafka').length;
    for (;;) {
      await createRedisCluster(c, log);
      const oks = await Promise.all(c.nodes.map((n) => nodeOk(n, 2000)));
      const registered = await brokersRegistered(addresses.kafka.brokers, 2000);
      if (oks.every(Boolean) && registered === brokers) break;
      const dead = c.nodes.find((n) => runningPid(c, n) === null);
      if (dead) throw new Error(`infra: ${dead.name} exited before it answered; see ${logFile(c, dead)}\n${tail(logFile(c, dead))}`);
      if (Date.now() > deadline) throw new Error(`infra: the cluster did not answer in time (${c.nodes.filter((_, i) => !oks[i]).map((n) => n.name).join(', ') || `${registered} of ${brokers} brokers registered`})`);
      await sleep(500);
    }
    writeFileSync(join(c.cfg.root, 'cluster.json'), `${JSON.stringify(addresses, null, 2)}\n`);
    return addresses;
  });
}

/** Stops every cluster node: SIGTERM, SIGKILL after a grace period. */
export async function clusterDown(o: ClusterOptions = {}): Promise<void> {
  const c = resolveCluster(o);
  const log = o.log ?? (() => {});
  if (!existsSync(c.cfg.root)) return;
  await withLock(c.cfg, 120_000, async () => {
    await Promise.all(
      c.nodes.map(async (n) => {
        const pid = runningPid(c, n);
        if (pid !== null) {
          log(`infra: stopping ${n.name} (pid ${pid})`);
          await stopPid(pid, o.timeoutMs ?? 30_000);
        }
        rmSync(pidFile(c, n), { force: true });
      }),
    );
    rmSync(join(c.cfg.root, 'cluster.json'), { force: true });
  });
}

/** One row per cluster node: whether it runs and answers. */
export async function clusterStatus(o: ClusterOptions = {}): Promise<ClusterNodeStatus[]> {
  const c = resolveCluster(o);
  return Promise.all(
    c.nodes.map(async (n) => {
      const pid = runningPid(c, n);
      return { service: n.name, running: pid !== null, pid, address: `127.0.0.1:${n.port}`, ok: pid !== null && (await nodeOk(n, 2000)), log: logFile(c, n) };
    }),
  );
}

/** Addresses of the cluster that `viewtally infra up --cluster` started (reads `cluster.json`). */
export function readClusterAddresses(o: Pick<ClusterOptions, 'root'> = {}): ClusterAddresses {
  const file = join(infraRoot({ root: o.root }), 'cluster.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ClusterAddresses;
  } catch {
    throw new Error(`the local cluster is not up (no ${file}); run \`viewtally infra up --cluster\` first`);
  }
}
