/**
 * Where the local infrastructure lives and listens: the infra folder and its
 * files, the Kafka jars, and the ports (127.0.0.1 only).
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
 * Ports, overridable by env or `opts.ports`:
 *   Kafka 19092 (VT_KAFKA_PORT), its controller 19093 (VT_KAFKA_CONTROLLER_PORT),
 *   Redis 16379 (VT_REDIS_PORT), ClickHouse HTTP 18123 (VT_CLICKHOUSE_PORT).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The three local services. */
export type ServiceName = 'kafka' | 'redis' | 'clickhouse';
/** Every service, in start order. */
export const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'redis', 'clickhouse'];

/** How clients reach the local services. */
export type InfraAddresses = {
  kafka: { brokers: string[] };
  redis: { url: string };
  clickhouse: { url: string };
};

/** The ports the local services listen on. */
export interface InfraPorts {
  kafka: number;
  kafkaController: number;
  redis: number;
  clickhouse: number;
}

/** What every infra call may be told. */
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

/** The repository's root folder. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The only interface the services listen on. */
export const HOST = '127.0.0.1';

/** Ports used when neither `VT_*_PORT` nor `opts.ports` says otherwise. */
export const DEFAULT_PORTS: InfraPorts = { kafka: 19092, kafkaController: 19093, redis: 16379, clickhouse: 18123 };

/** An infra folder's paths and ports, resolved once per call. */
export interface InfraConfig {
  root: string;
  runDir: string;
  logDir: string;
  dataDir: string;
  confDir: string;
  kafkaLibs: string;
  ports: InfraPorts;
}

/** A port from the environment, or undefined when the variable is unset. */
export function envPort(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name}=${v} is not a port number`);
  return n;
}

/** The infra folder: `opts.root`, else `$VT_INFRA_DIR`, else `<repo>/.viewtally`. */
export function infraRoot(opts: InfraOptions = {}, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(opts.root ?? (env.VT_INFRA_DIR || join(REPO_ROOT, '.viewtally')));
}

/** The ports from `opts.ports`, else `VT_*_PORT`, else the defaults (the controller follows a moved broker). */
export function resolvePorts(opts: InfraOptions = {}, env: NodeJS.ProcessEnv = process.env): InfraPorts {
  const kafka = opts.ports?.kafka ?? envPort('VT_KAFKA_PORT', env) ?? DEFAULT_PORTS.kafka;
  return {
    kafka,
    kafkaController: opts.ports?.kafkaController ?? envPort('VT_KAFKA_CONTROLLER_PORT', env) ?? (opts.ports?.kafka !== undefined || env.VT_KAFKA_PORT ? kafka + 1 : DEFAULT_PORTS.kafkaController),
    redis: opts.ports?.redis ?? envPort('VT_REDIS_PORT', env) ?? DEFAULT_PORTS.redis,
    clickhouse: opts.ports?.clickhouse ?? envPort('VT_CLICKHOUSE_PORT', env) ?? DEFAULT_PORTS.clickhouse,
  };
}

/** The folder's paths and ports for one call. */
export function resolveConfig(opts: InfraOptions = {}): InfraConfig {
  const root = infraRoot(opts);
  return {
    root,
    runDir: join(root, 'run'),
    logDir: join(root, 'logs'),
    dataDir: join(root, 'data'),
    confDir: join(root, 'conf'),
    kafkaLibs: resolve(process.env.VT_KAFKA_LIBS || join(REPO_ROOT, '.viewtally', 'cache', 'kafka-libs')),
    ports: resolvePorts(opts),
  };
}

/** The client addresses of services listening on `ports`. */
export function addressesFor(ports: InfraPorts): InfraAddresses {
  return {
    kafka: { brokers: [`${HOST}:${ports.kafka}`] },
    redis: { url: `redis://${HOST}:${ports.redis}` },
    clickhouse: { url: `http://${HOST}:${ports.clickhouse}` },
  };
}

/** One service's address as a single string, for messages. */
export function addressOf(svc: ServiceName, a: InfraAddresses): string {
  return svc === 'kafka' ? a.kafka.brokers.join(',') : svc === 'redis' ? a.redis.url : a.clickhouse.url;
}

/** The ports a service needs free before it starts. */
export function servicePorts(cfg: InfraConfig, svc: ServiceName): number[] {
  return svc === 'kafka' ? [cfg.ports.kafka, cfg.ports.kafkaController] : svc === 'redis' ? [cfg.ports.redis] : [cfg.ports.clickhouse];
}

/** `logs/<service>.log`. */
export const logFile = (cfg: InfraConfig, svc: ServiceName): string => join(cfg.logDir, `${svc}.log`);
/** `run/<service>.pid`. */
export const pidFile = (cfg: InfraConfig, svc: ServiceName): string => join(cfg.runDir, `${svc}.pid`);
/** `data/<service>/`. */
export const serviceDataDir = (cfg: InfraConfig, svc: ServiceName): string => join(cfg.dataDir, svc);
/** `conf/kafka/server.properties`. */
export const kafkaServerPropertiesFile = (cfg: InfraConfig): string => join(cfg.confDir, 'kafka', 'server.properties');
