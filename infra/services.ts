/**
 * Local infrastructure as supervised processes (no Docker): an Apache Kafka
 * broker (KRaft, jars from Maven Central), Debian's redis-server, and chDB behind
 * ClickHouse's HTTP interface (infra/clickhouse-http-server.ts). Up, down, status.
 *
 * Folder and ports: infra-paths.ts. Processes: processes.ts. Readiness:
 * health-checks.ts. Starting one service: launch.ts (Kafka's files: kafka-config.ts).
 *
 * `infraUp` is idempotent: it starts only what is not running, adopts a running
 * process it recognises even if the pid file is gone, and returns once every
 * service really answers.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { healthy } from './health-checks.ts';
import { withLock } from './infra-lock.ts';
import {
  HOST,
  SERVICE_NAMES,
  addressOf,
  addressesFor,
  infraRoot,
  logFile,
  pidFile,
  resolveConfig,
  servicePorts,
  type InfraAddresses,
  type InfraConfig,
  type InfraOptions,
  type ServiceName,
} from './infra-paths.ts';
import { launch, tail } from './launch.ts';
import { findOurPids, isAlive, isOurs, portFree, readPid, runningPid, sleep, stopPid } from './processes.ts';

/** One service as `infraStatus` sees it. */
export interface ServiceStatus {
  service: ServiceName;
  running: boolean;
  pid: number | null;
  address: string;
  ok: boolean;
  log: string;
}

/** What `infraUpDetailed` did. */
export interface InfraUpResult {
  addresses: InfraAddresses;
  /** Services this call started (the rest were already running). */
  started: ServiceName[];
}

function writeInfraJson(cfg: InfraConfig, a: InfraAddresses): void {
  const file = join(cfg.root, 'infra.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(a, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

async function startOne(cfg: InfraConfig, svc: ServiceName, a: InfraAddresses, deadline: number, log: (l: string) => void): Promise<boolean> {
  let pid = runningPid(cfg, svc);
  let started = false;
  if (pid === null) {
    for (const p of servicePorts(cfg, svc)) {
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
export function readInfraAddresses(opts: Pick<InfraOptions, 'root'> = {}, env: NodeJS.ProcessEnv = process.env): InfraAddresses {
  const file = join(infraRoot(opts, env), 'infra.json');
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
