import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, freemem, release } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../sinks/redis-client.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import { REPO_ROOT } from '../infra/infra-paths.ts';

/** The machine a run measured, and how busy it was with other work. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  freeMemoryBytesAtStart: number;
  kernel: string;
  loadAverageAtStart: number[];
  /** Processes using the most CPU when the run started that are not the local services (other people's work). */
  busiestOtherProcesses: { pid: number; cpuPercent: number; command: string }[];
}

/** Versions of everything a figure depends on. */
export interface Versions {
  node: string;
  kafka: string;
  clickhouse: string;
  redis: string;
  packages: Record<string, string>;
  git: { commit: string; changedFiles: string[] };
}

const PACKAGES = ['kafkajs', '@platformatic/kafka', 'rxjs', 'ioredis', '@clickhouse/client', 'chdb', 'avsc', 'fastify', 'autocannon', 'tsx'];

/** The machine now. */
export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    freeMemoryBytesAtStart: freemem(),
    kernel: release(),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    busiestOtherProcesses: busiestProcesses(),
  };
}

function busiestProcesses(): MachineInfo['busiestOtherProcesses'] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid=,pcpu=,args=', '--sort=-pcpu'], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => /^\s*(\d+)\s+([\d.]+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) !== process.pid && Number(m[2]) >= 5)
      .filter((m) => !/kafka\.Kafka|redis-server|clickhouse-http-server|^ps /.test(m[3]))
      .slice(0, 5)
      .map((m) => ({ pid: Number(m[1]), cpuPercent: Number(m[2]), command: m[3].slice(0, 160) }));
  } catch {
    return [];
  }
}

function packageVersion(name: string): string {
  const file = join(REPO_ROOT, 'node_modules', name, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'absent';
}

function kafkaVersion(): string {
  const libs = process.env.VT_KAFKA_LIBS ?? join(REPO_ROOT, '.viewtally', 'cache', 'kafka-libs');
  const jar = existsSync(libs) ? readdirSync(libs).find((f) => /^kafka-server-common-[\d.]+\.jar$/.test(f) || /^kafka_2\.13-[\d.]+\.jar$/.test(f)) : undefined;
  return jar ? /-([\d.]+)\.jar$/.exec(jar)![1] : 'unknown';
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trimEnd();
  } catch {
    return '';
  }
}

/** Versions of node, the services and the packages, and the commit the run measured (with its uncommitted changes). */
export async function versions(redis: RedisClient, clickhouse: ClickHouseClient): Promise<Versions> {
  const info = await redis.info('server');
  const rows = await (await clickhouse.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>();
  return {
    node: process.version,
    kafka: kafkaVersion(),
    clickhouse: `${rows[0]?.v ?? 'unknown'} (chDB ${packageVersion('chdb')})`,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(p)])),
    git: {
      commit: git(['rev-parse', '--short', 'HEAD']),
      changedFiles: git(['status', '--porcelain', '--untracked-files=no'])
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(3)),
    },
  };
}
