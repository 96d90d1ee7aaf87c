/**
 * Starting one service as a detached process of its own (its own process group,
 * output appended to `logs/<service>.log`), and reading that log back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HOST, REPO_ROOT, kafkaServerPropertiesFile, logFile, serviceDataDir, type InfraConfig, type ServiceName } from './infra-paths.ts';
import { kafkaClusterId, kafkaLog4jProperties, kafkaServerProperties } from './kafka-config.ts';
import { ensureKafkaLibs } from './kafka-libs.ts';

/** How the ClickHouse HTTP server is started: one node process running tsx's loader. */
export function clickHouseServerCommand(dataDir: string, port: number): { command: string; args: string[] } {
  const require = createRequire(import.meta.url);
  const tsxLoader = require.resolve('tsx');
  return {
    command: process.execPath,
    args: ['--import', `file://${tsxLoader}`, join(REPO_ROOT, 'infra', 'clickhouse-http-server.ts'), '--path', dataDir, '--port', String(port), '--host', HOST],
  };
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 25): string {
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

/** The environment of a started service: ours, without node flags meant for this process. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Starts `command` in its own process group, its output appended to `log`; returns its pid. */
export function spawnDetached(command: string, args: string[], cwd: string, log: string): number {
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

/** Whether `cmd` is on the PATH. */
export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Starts `svc` detached and returns its pid (not yet answering: the caller waits on its health check). */
export function launch(cfg: InfraConfig, svc: ServiceName, log: (l: string) => void): number {
  const data = serviceDataDir(cfg, svc);
  const lf = logFile(cfg, svc);
  mkdirSync(data, { recursive: true });
  rotateLog(lf);
  writeFileSync(lf, `\n===== ${new Date().toISOString()} starting ${svc} (infra/launch.ts) =====\n`, { flag: 'a' });
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
      const props = kafkaServerPropertiesFile(cfg);
      const log4j = join(cfg.confDir, 'kafka', 'log4j.properties');
      mkdirSync(join(cfg.confDir, 'kafka'), { recursive: true });
      writeFileSync(props, kafkaServerProperties(cfg));
      writeFileSync(log4j, kafkaLog4jProperties(lf));
      const jvm = ['-Xms256m', '-Xmx768m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${log4j}`, `-Dkafka.logs.dir=${cfg.logDir}`];
      return startBroker({ jvm, kafkaLibs: cfg.kafkaLibs, props, dataDir: data, clusterId: kafkaClusterId, cwd: cfg.root, log: lf });
    }
  }
}

/**
 * Starts a Kafka broker (`kafka.Kafka props`) detached, formatting its data dir first when it has
 * never been (`StorageTool format` with `clusterId()`, the same id for every broker of a cluster).
 */
export function startBroker(o: { jvm: string[]; kafkaLibs: string; props: string; dataDir: string; clusterId: () => string; cwd: string; log: string }): number {
  const cp = `${o.kafkaLibs}/*`;
  // The client-side JIT only (C1): one broker's start took 6.5 s of CPU and it idled at 4.6 % of a
  // core; with C1 3.7-4.0 s and 3.1-3.7 % (`infra up`, /proc utime + stime, then 60 s idle). These
  // brokers serve a dev box and the test suite, which starts seven of them on two cores; the
  // benchmark compares the job with the bare consume on the same broker, in the same run.
  const jvm = [...o.jvm, '-XX:TieredStopAtLevel=1'];
  if (!existsSync(join(o.dataDir, 'meta.properties'))) {
    const fmt = spawnSync('java', [...jvm, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', o.clusterId(), '-c', o.props, '--ignore-formatted'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: childEnv(),
    });
    writeFileSync(o.log, `${fmt.stdout ?? ''}${fmt.stderr ?? ''}`, { flag: 'a' });
    if (fmt.status !== 0) throw new Error(`infra: formatting Kafka storage failed (exit ${fmt.status}); see ${o.log}\n${tail(o.log)}`);
  }
  return spawnDetached('java', [...jvm, '-cp', cp, 'kafka.Kafka', o.props], o.cwd, o.log);
}
