/**
 * Local infrastructure as supervised processes (no Docker): an Apache Kafka
 * broker (KRaft, jars from Maven Central), Debian's redis-server, and chDB behind
 * ClickHouse's HTTP interface (infra/clickhouse-http-server.ts).
 *
 * Everything lives under one folder, `.viewtally/` at the repo root by default
 * (`VT_INFRA_DIR` or `opts.root` to use another):
 *
 *   run/<service>.pid   run/infra.lock   infra.json (addresses of what is up)
 *   logs/<service>.log  data/<service>/  conf/kafka/{server,log4j}.properties
 *
 * The Kafka jars are shared by every infra folder: `<repo>/.viewtally/cache/kafka-libs`
 * (`VT_KAFKA_LIBS` to override), fetched by infra/setup.sh or on first use.
 *
 * Ports (127.0.0.1 only), overridable by env or `opts.ports`:
 *   Kafka 19092 (VT_KAFKA_PORT), its controller 19093 (VT_KAFKA_CONTROLLER_PORT),
 *   Redis 16379 (VT_REDIS_PORT), ClickHouse HTTP 18123 (VT_CLICKHOUSE_PORT).
 *
 * `infraUp` is idempotent: it starts only what is not running, adopts a running
 * process it recognises (by the data/config path in its command line or its
 * working directory) even if the pid file is gone, and returns once every service
 * really answers (Kafka: admin listTopics + describeCluster; Redis: PING and AOF
 * loaded; ClickHouse: GET /ping and SELECT 1 through @clickhouse/client).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { createClickHouseClient } from './clickhouse-client.ts';

export type ServiceName = 'kafka' | 'redis' | 'clickhouse';
export const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'redis', 'clickhouse'];

export type InfraAddresses = {
  kafka: { brokers: string[] };
  redis: { url: string };
  clickhouse: { url: string };
};

export interface InfraPorts {
  kafka: number;
  kafkaController: number;
  redis: number;
  clickhouse: number;
}

export interface InfraOptions {
  /** The infra folder (default `$VT_INFRA_DIR`, else `<repo>/.viewtally`). */
  root?: string;
  /** Bound on the whole `infraUp` (default 120 s) or on a stop's grace period. */
  timeoutMs?: number;
  ports?: Partial<InfraPorts>;
  /** Which services (default all three). */
  services?: readonly ServiceName[];
  /** Progress lines ("starting kafka …"); silent by default. */
  log?: (line: string) => void;
}

export interface ServiceStatus {
  service: ServiceName;
  running: boolean;
  pid: number | null;
  address: string;
  ok: boolean;
  log: string;
}

export interface InfraUpResult {
  addresses: InfraAddresses;
  /** Services this call started (the rest were already running). */
  started: ServiceName[];
}

// ---------------------------------------------------------------------------
// configuration

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

export const DEFAULT_PORTS: InfraPorts = { kafka: 19092, kafkaController: 19093, redis: 16379, clickhouse: 18123 };

interface InfraConfig {
  root: string;
  runDir: string;
  logDir: string;
  dataDir: string;
  confDir: string;
  kafkaLibs: string;
  ports: InfraPorts;
}

function envPort(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name}=${v} is not a port number`);
  return n;
}

export function infraRoot(opts: InfraOptions = {}): string {
  return resolve(opts.root ?? (process.env.VT_INFRA_DIR || join(REPO_ROOT, '.viewtally')));
}

function resolveConfig(opts: InfraOptions = {}): InfraConfig {
  const root = infraRoot(opts);
  const kafka = opts.ports?.kafka ?? envPort('VT_KAFKA_PORT') ?? DEFAULT_PORTS.kafka;
  const ports: InfraPorts = {
    kafka,
    kafkaController: opts.ports?.kafkaController ?? envPort('VT_KAFKA_CONTROLLER_PORT') ?? (opts.ports?.kafka !== undefined || process.env.VT_KAFKA_PORT ? kafka + 1 : DEFAULT_PORTS.kafkaController),
    redis: opts.ports?.redis ?? envPort('VT_REDIS_PORT') ?? DEFAULT_PORTS.redis,
    clickhouse: opts.ports?.clickhouse ?? envPort('VT_CLICKHOUSE_PORT') ?? DEFAULT_PORTS.clickhouse,
  };
  return {
    root,
    runDir: join(root, 'run'),
    logDir: join(root, 'logs'),
    dataDir: join(root, 'data'),
    confDir: join(root, 'conf'),
    kafkaLibs: resolve(process.env.VT_KAFKA_LIBS || join(REPO_ROOT, '.viewtally', 'cache', 'kafka-libs')),
    ports,
  };
}

export function addressesFor(ports: InfraPorts): InfraAddresses {
  return {
    kafka: { brokers: [`${HOST}:${ports.kafka}`] },
    redis: { url: `redis://${HOST}:${ports.redis}` },
    clickhouse: { url: `http://${HOST}:${ports.clickhouse}` },
  };
}

function addressOf(svc: ServiceName, a: InfraAddresses): string {
  return svc === 'kafka' ? a.kafka.brokers.join(',') : svc === 'redis' ? a.redis.url : a.clickhouse.url;
}

const logFile = (cfg: InfraConfig, svc: ServiceName) => join(cfg.logDir, `${svc}.log`);
const pidFile = (cfg: InfraConfig, svc: ServiceName) => join(cfg.runDir, `${svc}.pid`);
const serviceDataDir = (cfg: InfraConfig, svc: ServiceName) => join(cfg.dataDir, svc);

// ---------------------------------------------------------------------------
// processes

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  const st = procState(pid);
  return st !== null && st !== 'Z' && st !== 'X';
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

function cwdOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** Whether `pid` is this infra folder's process for `svc`. */
function isOurs(cfg: InfraConfig, svc: ServiceName, pid: number): boolean {
  if (!isAlive(pid)) return false;
  const args = cmdline(pid);
  switch (svc) {
    case 'kafka':
      return args.includes('kafka.Kafka') && args.includes(join(cfg.confDir, 'kafka', 'server.properties'));
    case 'clickhouse':
      return args.some((a) => a.endsWith('clickhouse-http-server.ts')) && args.includes(serviceDataDir(cfg, 'clickhouse'));
    case 'redis':
      // redis-server rewrites its process title; it runs in its --dir, though.
      return (args[0] ?? '').includes('redis-server') && cwdOf(pid) === serviceDataDir(cfg, 'redis');
  }
}

function findOurPids(cfg: InfraConfig, svc: ServiceName): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    if (isOurs(cfg, svc, pid)) pids.push(pid);
  }
  return pids;
}

function readPid(cfg: InfraConfig, svc: ServiceName): number | null {
  try {
    const n = Number(readFileSync(pidFile(cfg, svc), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The running process of `svc` (pid file, else a scan), or null. */
function runningPid(cfg: InfraConfig, svc: ServiceName): number | null {
  const p = readPid(cfg, svc);
  if (p !== null && isOurs(cfg, svc, p)) return p;
  const found = findOurPids(cfg, svc);
  if (found.length > 0) {
    writeFileSync(pidFile(cfg, svc), `${found[0]}\n`);
    return found[0];
  }
  return null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

async function stopPid(pid: number, graceMs: number): Promise<void> {
  signal(pid, 'SIGTERM');
  if (await waitExit(pid, graceMs)) return;
  // Children we spawned are process-group leaders (detached): take the group too.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* not a group leader or gone */
  }
  signal(pid, 'SIGKILL');
  if (!(await waitExit(pid, 10_000))) throw new Error(`process ${pid} did not exit after SIGKILL`);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, HOST, () => s.close(() => res(true)));
  });
}

function tail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

function rotateLog(file: string, maxBytes = 20 * 1024 * 1024): void {
  try {
    if (statSync(file).size > maxBytes) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}

/** Runs `fn` holding `<run>/infra.lock` (other processes starting or stopping the same folder wait). */
async function withLock<T>(cfg: InfraConfig, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(cfg.runDir, { recursive: true });
  const lock = join(cfg.runDir, 'infra.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      let ageMs = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
        ageMs = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // vanished: try again
      }
      const unreadable = !Number.isInteger(holder) || holder <= 0;
      // A lock whose holder died is stale; an unreadable one is stale once it is old
      // (it is written right after being created).
      if ((!unreadable && !isAlive(holder)) || (unreadable && ageMs > 5000)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`infra: ${lock} is held by process ${holder} for too long`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------------------
// health checks

async function kafkaOk(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'viewtally-infra',
    brokers,
    connectionTimeout: Math.min(timeoutMs, 3000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function redisOk(url: string, timeoutMs = 2000): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    if ((await r.ping()) !== 'PONG') return false;
    // PING answers while the AOF is still loading; reads do not.
    const info = await r.info('persistence');
    return /\bloading:0\b/.test(info);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function clickhouseOk(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok || (await res.text()) !== 'Ok.\n') return false;
  } catch {
    return false;
  }
  const ch = createClickHouseClient(url, { requestTimeoutMs: timeoutMs, maxOpenConnections: 1 });
  try {
    const rows = await (await ch.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow' })).json<{ ok: number }>();
    return rows.length === 1 && rows[0].ok === 1;
  } catch {
    return false;
  } finally {
    await ch.close().catch(() => {});
  }
}

function healthy(svc: ServiceName, a: InfraAddresses, timeoutMs?: number): Promise<boolean> {
  switch (svc) {
    case 'kafka':
      return kafkaOk(a.kafka.brokers, timeoutMs);
    case 'redis':
      return redisOk(a.redis.url, timeoutMs);
    case 'clickhouse':
      return clickhouseOk(a.clickhouse.url, timeoutMs);
  }
}

// ---------------------------------------------------------------------------
// launch commands

/** How the ClickHouse HTTP server is started: one node process running tsx's loader. */
export function clickHouseServerCommand(dataDir: string, port: number): { command: string; args: string[] } {
  const require = createRequire(import.meta.url);
  const tsxLoader = require.resolve('tsx');
  return {
    command: process.execPath,
    args: ['--import', `file://${tsxLoader}`, join(REPO_ROOT, 'infra', 'clickhouse-http-server.ts'), '--path', dataDir, '--port', String(port), '--host', HOST],
  };
}

function kafkaJarsPresent(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  } catch {
    return false;
  }
}

/** The broker's jars, fetched with Maven (infra/pom.xml) if they are not cached yet. */
export function ensureKafkaLibs(dir: string, log?: (l: string) => void): void {
  if (kafkaJarsPresent(dir)) return;
  log?.(`infra: fetching Kafka jars into ${dir} (mvn)`);
  const r = spawnSync(
    'mvn',
    ['-q', '-B', '-Dstyle.color=never', '-f', join(REPO_ROOT, 'infra', 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${dir}`],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (r.error || r.status !== 0 || !kafkaJarsPresent(dir)) {
    const why = r.error ? r.error.message : `${r.stdout}\n${r.stderr}`.trim().slice(-2000);
    throw new Error(`infra: kafka jars are missing in ${dir} and mvn could not fetch them (run \`bash infra/setup.sh\`): ${why}`);
  }
}

function kafkaServerProperties(cfg: InfraConfig): string {
  const p = cfg.ports;
  return `# written by infra/services.ts on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${p.kafkaController}
listeners=PLAINTEXT://${HOST}:${p.kafka},CONTROLLER://${HOST}:${p.kafkaController}
advertised.listeners=PLAINTEXT://${HOST}:${p.kafka}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${serviceDataDir(cfg, 'kafka')}
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=168
log.segment.bytes=268435456
`;
}

function kafkaLog4jProperties(cfg: InfraConfig): string {
  return `# written by infra/services.ts on every start
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${logFile(cfg, 'kafka')}
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
`;
}

function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

function spawnDetached(command: string, args: string[], cwd: string, log: string): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', fd, fd], env: childEnv() });
    child.on('error', () => {});
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function launch(cfg: InfraConfig, svc: ServiceName, log: (l: string) => void): number {
  const data = serviceDataDir(cfg, svc);
  const lf = logFile(cfg, svc);
  mkdirSync(data, { recursive: true });
  rotateLog(lf);
  writeFileSync(lf, `\n===== ${new Date().toISOString()} starting ${svc} (infra/services.ts) =====\n`, { flag: 'a' });
  switch (svc) {
    case 'redis': {
      if (!commandExists('redis-server')) throw new Error('infra: redis-server is not installed; run `bash infra/setup.sh`');
      return spawnDetached(
        'redis-server',
        ['--port', String(cfg.ports.redis), '--bind', HOST, '--protected-mode', 'yes', '--dir', data, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--logfile', ''],
        data,
        lf,
      );
    }
    case 'clickhouse': {
      const cmd = clickHouseServerCommand(data, cfg.ports.clickhouse);
      return spawnDetached(cmd.command, cmd.args, REPO_ROOT, lf);
    }
    case 'kafka': {
      if (!commandExists('java')) throw new Error('infra: java is not installed; run `bash infra/setup.sh`');
      ensureKafkaLibs(cfg.kafkaLibs, log);
      const conf = join(cfg.confDir, 'kafka');
      mkdirSync(conf, { recursive: true });
      const props = join(conf, 'server.properties');
      const log4j = join(conf, 'log4j.properties');
      writeFileSync(props, kafkaServerProperties(cfg));
      writeFileSync(log4j, kafkaLog4jProperties(cfg));
      const cp = `${cfg.kafkaLibs}/*`;
      const jvm = ['-Xms256m', '-Xmx768m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${log4j}`, `-Dkafka.logs.dir=${cfg.logDir}`];
      if (!existsSync(join(data, 'meta.properties'))) {
        const fmt = spawnSync('java', [...jvm, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(), '-c', props, '--ignore-formatted'], {
          encoding: 'utf8',
          timeout: 120_000,
          env: childEnv(),
        });
        writeFileSync(lf, `${fmt.stdout ?? ''}${fmt.stderr ?? ''}`, { flag: 'a' });
        if (fmt.status !== 0) throw new Error(`infra: formatting Kafka storage failed (exit ${fmt.status}); see ${lf}\n${tail(lf)}`);
      }
      return spawnDetached('java', [...jvm, '-cp', cp, 'kafka.Kafka', props], cfg.root, lf);
    }
  }
}

// ---------------------------------------------------------------------------
// public API

function writeInfraJson(cfg: InfraConfig, a: InfraAddresses): void {
  const file = join(cfg.root, 'infra.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(a, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

async function startOne(cfg: InfraConfig, svc: ServiceName, a: InfraAddresses, deadline: number, log: (l: string) => void): Promise<boolean> {
  let pid = runningPid(cfg, svc);
  let started = false;
  if (pid === null) {
    const port = svc === 'kafka' ? cfg.ports.kafka : svc === 'redis' ? cfg.ports.redis : cfg.ports.clickhouse;
    const busy = [port, ...(svc === 'kafka' ? [cfg.ports.kafkaController] : [])];
    for (const p of busy) {
      if (!(await portFree(p))) {
        throw new Error(`infra: cannot start ${svc}: port ${HOST}:${p} is used by another process (not this infra folder ${cfg.root}); stop it or choose other ports (VT_*_PORT)`);
      }
    }
    log(`infra: starting ${svc} on ${addressOf(svc, a)} (log ${logFile(cfg, svc)})`);
    try {
      pid = launch(cfg, svc, log);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(msg.startsWith('infra:') ? msg : `infra: cannot start ${svc}: ${msg}; see ${logFile(cfg, svc)}`);
    }
    writeFileSync(pidFile(cfg, svc), `${pid}\n`);
    started = true;
  }
  for (;;) {
    const left = deadline - Date.now();
    if (await healthy(svc, a, Math.max(500, Math.min(3000, left)))) {
      if (started) log(`infra: ${svc} is up (pid ${pid})`);
      return started;
    }
    if (!isAlive(pid)) {
      throw new Error(`infra: ${svc} exited before it answered; see ${logFile(cfg, svc)}\n${tail(logFile(cfg, svc))}`);
    }
    if (Date.now() >= deadline) {
      throw new Error(`infra: ${svc} (pid ${pid}) did not answer on ${addressOf(svc, a)} in time; see ${logFile(cfg, svc)}\n${tail(logFile(cfg, svc))}`);
    }
    await sleep(250);
  }
}

/** Like {@link infraUp}, and says which services this call started. */
export async function infraUpDetailed(opts: InfraOptions = {}): Promise<InfraUpResult> {
  const cfg = resolveConfig(opts);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const log = opts.log ?? (() => {});
  const services = opts.services ?? SERVICE_NAMES;
  for (const d of [cfg.root, cfg.runDir, cfg.logDir, cfg.dataDir, cfg.confDir]) mkdirSync(d, { recursive: true });
  const addresses = addressesFor(cfg.ports);
  return withLock(cfg, timeoutMs, async () => {
    const results = await Promise.allSettled(services.map((s) => startOne(cfg, s, addresses, deadline, log)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length > 0) {
      const err = new Error(failures.map((f) => f.message).join('\n\n'));
      throw err;
    }
    writeInfraJson(cfg, addresses);
    return { addresses, started: services.filter((_, i) => (results[i] as PromiseFulfilledResult<boolean>).value) };
  });
}

/** Starts what is not running, waits until everything answers, writes `infra.json`. */
export async function infraUp(opts: InfraOptions = {}): Promise<InfraAddresses> {
  return (await infraUpDetailed(opts)).addresses;
}

/** Stops the services (all by default): SIGTERM, SIGKILL after a grace period, waits for exit. */
export async function infraDown(opts: InfraOptions = {}): Promise<void> {
  const cfg = resolveConfig(opts);
  const services = opts.services ?? SERVICE_NAMES;
  const log = opts.log ?? (() => {});
  if (!existsSync(cfg.root)) return;
  await withLock(cfg, 120_000, async () => {
    await Promise.all(
      services.map(async (svc) => {
        const pids = new Set(findOurPids(cfg, svc));
        const p = readPid(cfg, svc);
        if (p !== null && isOurs(cfg, svc, p)) pids.add(p);
        for (const pid of pids) {
          log(`infra: stopping ${svc} (pid ${pid})`);
          await stopPid(pid, opts.timeoutMs ?? (svc === 'kafka' ? 30_000 : 15_000));
        }
        rmSync(pidFile(cfg, svc), { force: true });
      }),
    );
    if (SERVICE_NAMES.every((s) => runningPid(cfg, s) === null)) rmSync(join(cfg.root, 'infra.json'), { force: true });
  });
}

/** One line per service: whether its process runs and whether it answers. */
export async function infraStatus(opts: InfraOptions = {}): Promise<ServiceStatus[]> {
  const cfg = resolveConfig(opts);
  const a = addressesFor(cfg.ports);
  const services = opts.services ?? SERVICE_NAMES;
  mkdirSync(cfg.runDir, { recursive: true });
  return Promise.all(
    services.map(async (svc) => {
      const pid = runningPid(cfg, svc);
      return {
        service: svc,
        running: pid !== null,
        pid,
        address: addressOf(svc, a),
        ok: pid !== null && (await healthy(svc, a, 2000)),
        log: logFile(cfg, svc),
      };
    }),
  );
}

/** Addresses of the infra that `viewtally infra up` started (reads `infra.json`). */
export function readInfraAddresses(opts: Pick<InfraOptions, 'root'> = {}): InfraAddresses {
  const file = join(infraRoot(opts), 'infra.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`local infra is not up (no ${file}); run \`viewtally infra up\` first`);
  }
  const a = JSON.parse(text) as InfraAddresses;
  if (!a?.kafka?.brokers || !a?.redis?.url || !a?.clickhouse?.url) throw new Error(`${file} is malformed; run \`viewtally infra up\` again`);
  return { kafka: { brokers: [...a.kafka.brokers] }, redis: { url: a.redis.url }, clickhouse: { url: a.clickhouse.url } };
}
