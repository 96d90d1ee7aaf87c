/**
 * The services' processes: recognising this infra folder's process of a service
 * (by the data/config path in its command line or its working directory, so one
 * is adopted even when its pid file is gone), pid files, and stopping.
 */
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { HOST, kafkaServerPropertiesFile, pidFile, serviceDataDir, type InfraConfig, type ServiceName } from './infra-paths.ts';

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
export function isOurs(cfg: InfraConfig, svc: ServiceName, pid: number): boolean {
  if (!isAlive(pid)) return false;
  const args = cmdline(pid);
  switch (svc) {
    case 'kafka':
      return args.includes('kafka.Kafka') && args.includes(kafkaServerPropertiesFile(cfg));
    case 'clickhouse':
      return args.some((a) => a.endsWith('clickhouse-http-server.ts')) && args.includes(serviceDataDir(cfg, 'clickhouse'));
    case 'redis':
      // redis-server rewrites its process title; it runs in its --dir, though.
      return (args[0] ?? '').includes('redis-server') && cwdOf(pid) === serviceDataDir(cfg, 'redis');
  }
}

/** Every live process of this infra folder's `svc`, found by scanning /proc. */
export function findOurPids(cfg: InfraConfig, svc: ServiceName): number[] {
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

/** The pid in `svc`'s pid file, whether or not it still runs. */
export function readPid(cfg: InfraConfig, svc: ServiceName): number | null {
  try {
    const n = Number(readFileSync(pidFile(cfg, svc), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The running process of `svc` (pid file, else a scan), or null. */
export function runningPid(cfg: InfraConfig, svc: ServiceName): number | null {
  const p = readPid(cfg, svc);
  if (p !== null && isOurs(cfg, svc, p)) return p;
  const found = findOurPids(cfg, svc);
  if (found.length > 0) {
    writeFileSync(pidFile(cfg, svc), `${found[0]}\n`);
    return found[0];
  }
  return null;
}

/** A promise that resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

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

/** SIGTERM, then SIGKILL (to its process group too) after `graceMs`; resolves once it has exited. */
export async function stopPid(pid: number, graceMs: number): Promise<void> {
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

/** Whether nothing listens on `port` of the services' interface. */
export async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, HOST, () => s.close(() => res(true)));
  });
}
