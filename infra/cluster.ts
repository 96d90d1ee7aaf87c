/**
 * `viewtally infra up --cluster`: beside the single-node services, three KRaft Kafka brokers and a
 * three-master Redis Cluster as local processes (nodes and settings in cluster-nodes.ts). Files
 * live in the same infra folder: `run/<node>.pid`, `logs/<node>.log`, `data/<node>/`,
 * `conf/<node>/`, and `cluster.json` with the addresses once everything answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { ensureKafkaLibs, infraRoot, isAlive, REPO_ROOT } from './services.ts';
import { brokerJvm, brokerLog4j, brokerProperties, clusterAddresses, clusterNodes, clusterPorts, redisClusterArgs, type ClusterAddresses, type ClusterNode, type ClusterPorts } from './cluster-nodes.ts';

/** Options of the cluster commands. */
export interface ClusterOptions {
  root?: string;
  ports?: Partial<ClusterPorts>;
  timeoutMs?: number;
  log?: (line: string) => void;
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

interface Paths {
  root: string;
  kafkaLibs: string;
  ports: ClusterPorts;
  nodes: ClusterNode[];
}

function paths(o: ClusterOptions): Paths {
  const ports = clusterPorts(o.ports);
  return {
    root: infraRoot({ root: o.root }),
    kafkaLibs: resolve(process.env.VT_KAFKA_LIBS || join(REPO_ROOT, '.viewtally', 'cache', 'kafka-libs')),
    ports,
    nodes: clusterNodes(ports),
  };
}

const pidFile = (p: Paths, n: ClusterNode) => join(p.root, 'run', `${n.name}.pid`);
const logFile = (p: Paths, n: ClusterNode) => join(p.root, 'logs', `${n.name}.log`);
const dataDir = (p: Paths, n: ClusterNode) => join(p.root, 'data', n.name);
const confDir = (p: Paths, n: ClusterNode) => join(p.root, 'conf', n.name);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The node's running process: its pid file's pid, if that process is still this node (its data dir or config in its command line or cwd). */
function runningPid(p: Paths, n: ClusterNode): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(p, n), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (n.kind === 'kafka' ? cmd.includes(join(confDir(p, n), 'server.properties')) : cmd.includes('redis-server')) return pid;
  } catch {
    /* gone */
  }
  return null;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function spawnNode(p: Paths, n: ClusterNode, command: string, args: string[], cwd: string): number {
  const fd = openSync(logFile(p, n), 'a');
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', fd, fd], env });
    child.on('error', () => {});
    if (child.pid === undefined) throw new Error(`infra: could not start ${n.name}`);
    child.unref();
    writeFileSync(pidFile(p, n), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The cluster id every broker is formatted with, kept beside the brokers' data. */
function kafkaClusterId(p: Paths): string {
  const file = join(p.root, 'data', 'kafka-cluster.id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  writeFileSync(file, `${id}\n`);
  return id;
}

function launch(p: Paths, n: ClusterNode, log: (l: string) => void): number {
  const data = dataDir(p, n);
  mkdirSync(data, { recursive: true });
  writeFileSync(logFile(p, n), `\n===== ${new Date().toISOString()} starting ${n.name} (infra/cluster.ts) =====\n`, { flag: 'a' });
  if (n.kind === 'redis') return spawnNode(p, n, 'redis-server', redisClusterArgs(n, data), data);
  ensureKafkaLibs(p.kafkaLibs, log);
  const conf = confDir(p, n);
  mkdirSync(conf, { recursive: true });
  const props = join(conf, 'server.properties');
  writeFileSync(props, brokerProperties(n, p.nodes, data));
  writeFileSync(join(conf, 'log4j.properties'), brokerLog4j(logFile(p, n)));
  const jvm = brokerJvm(conf, join(p.root, 'logs'));
  const cp = `${p.kafkaLibs}/*`;
  if (!existsSync(join(data, 'meta.properties'))) {
    const fmt = spawnSync('java', [...jvm, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(p), '-c', props, '--ignore-formatted'], { encoding: 'utf8', timeout: 120_000 });
    writeFileSync(logFile(p, n), `${fmt.stdout ?? ''}${fmt.stderr ?? ''}`, { flag: 'a' });
    if (fmt.status !== 0) throw new Error(`infra: formatting ${n.name} failed (exit ${fmt.status}); see ${logFile(p, n)}`);
  }
  return spawnNode(p, n, 'java', [...jvm, '-cp', cp, 'kafka.Kafka', props], p.root);
}

async function brokersAnswering(brokers: string[], timeoutMs: number): Promise<number> {
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

async function nodeOk(p: Paths, n: ClusterNode, timeoutMs: number): Promise<boolean> {
  if (n.kind === 'kafka') return (await brokersAnswering([`127.0.0.1:${n.port}`], timeoutMs)) > 0;
  return (await redisClusterInfo(n.port, timeoutMs))?.get('cluster_state') === 'ok';
}

/** Assigns the slots once, on three fresh masters; a cluster that has its slots already forms again by itself. */
async function createRedisCluster(p: Paths, log: (l: string) => void): Promise<void> {
  const redisNodes = p.nodes.filter((n) => n.kind === 'redis');
  const infos = await Promise.all(redisNodes.map((n) => redisClusterInfo(n.port, 2000)));
  if (infos.some((i) => i === null)) return; // still starting: the health wait below retries the whole step
  const assigned = infos.map((i) => Number(i!.get('cluster_slots_assigned') ?? 0));
  if (assigned.every((a) => a === 0)) {
    log(`infra: creating the Redis Cluster on ${redisNodes.map((n) => n.port).join(', ')}`);
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...redisNodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`infra: redis-cli --cluster create failed: ${`${r.stdout}\n${r.stderr}`.trim().slice(-2000)}`);
  }
}

/** Starts every cluster node that is not running, creates the Redis Cluster on first start, waits until all answer, writes cluster.json. */
export async function clusterUp(o: ClusterOptions = {}): Promise<ClusterAddresses> {
  const p = paths(o);
  const log = o.log ?? (() => {});
  const deadline = Date.now() + (o.timeoutMs ?? 180_000);
  for (const d of ['run', 'logs', 'data', 'conf']) mkdirSync(join(p.root, d), { recursive: true });
  for (const n of p.nodes) {
    if (runningPid(p, n) !== null) continue;
    for (const port of [n.port, ...(n.controllerPort === undefined ? [] : [n.controllerPort])]) {
      if (!(await portFree(port))) throw new Error(`infra: cannot start ${n.name}: port 127.0.0.1:${port} is used by another process; choose other ports (VT_*_CLUSTER_PORT)`);
    }
    log(`infra: starting ${n.name} on 127.0.0.1:${n.port} (log ${logFile(p, n)})`);
    launch(p, n, log);
  }
  const addresses = clusterAddresses(p.ports);
  for (;;) {
    await createRedisCluster(p, log);
    const oks = await Promise.all(p.nodes.map((n) => nodeOk(p, n, 2000)));
    const brokers = await brokersAnswering(addresses.kafka.brokers, 2000);
    if (oks.every(Boolean) && brokers === p.nodes.filter((n) => n.kind === 'kafka').length) break;
    const dead = p.nodes.find((n) => runningPid(p, n) === null);
    if (dead) throw new Error(`infra: ${dead.name} exited before it answered; see ${logFile(p, dead)}`);
    if (Date.now() > deadline) throw new Error(`infra: the cluster did not answer in time (${p.nodes.filter((_, i) => !oks[i]).map((n) => n.name).join(', ') || `${brokers} brokers registered`})`);
    await sleep(500);
  }
  writeFileSync(join(p.root, 'cluster.json'), `${JSON.stringify(addresses, null, 2)}\n`);
  return addresses;
}

/** Stops every cluster node: SIGTERM, SIGKILL after a grace period. */
export async function clusterDown(o: ClusterOptions = {}): Promise<void> {
  const p = paths(o);
  const log = o.log ?? (() => {});
  await Promise.all(
    p.nodes.map(async (n) => {
      const pid = runningPid(p, n);
      if (pid !== null) {
        log(`infra: stopping ${n.name} (pid ${pid})`);
        process.kill(pid, 'SIGTERM');
        const until = Date.now() + (o.timeoutMs ?? 30_000);
        while (isAlive(pid) && Date.now() < until) await sleep(100);
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        while (isAlive(pid)) await sleep(50);
      }
      rmSync(pidFile(p, n), { force: true });
    }),
  );
  rmSync(join(p.root, 'cluster.json'), { force: true });
}

/** One row per cluster node: whether it runs and answers (a broker: it is registered; a Redis master: its cluster state is ok). */
export async function clusterStatus(o: ClusterOptions = {}): Promise<ClusterNodeStatus[]> {
  const p = paths(o);
  return Promise.all(
    p.nodes.map(async (n) => {
      const pid = runningPid(p, n);
      return { service: n.name, running: pid !== null, pid, address: `127.0.0.1:${n.port}`, ok: pid !== null && (await nodeOk(p, n, 2000)), log: logFile(p, n) };
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
