import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultJobConfig, type JobConfig } from './config.ts';
import { applyOverrides, loadConfigFile } from './config-file.ts';
import { addressesFor, infraRoot, resolvePorts } from '../infra/infra-paths.ts';
import { readInfraAddresses } from '../infra/services.ts';
import { parseIntegerOption } from './integer-option.ts';
import { readClusterAddresses } from '../infra/cluster.ts';

/** The connection flags every command shares. */
export interface ConnectionFlags {
  brokers?: string;
  topic?: string;
  group?: string;
  clickhouse?: string;
  redis?: string;
  partitions?: string;
  config?: string;
  /** Use the local cluster that `infra up --cluster` started (Kafka brokers and Redis Cluster). */
  cluster?: boolean;
}

/**
 * The job's configuration: flags win over `VT_*` environment variables, which win over a JSON
 * config file (`--config` or `VT_CONFIG`), which wins over the addresses of the local infra
 * (`.viewtally/infra.json` once `infra up` has run, else where `infra up` would start it:
 * `VT_KAFKA_PORT`, `VT_REDIS_PORT`, `VT_CLICKHOUSE_PORT`; with `--cluster` or `VT_CLUSTER=1` Kafka
 * and Redis are the local cluster's, from `cluster.json`, and ClickHouse is `VT_CLUSTER_CLICKHOUSE`
 * where set), which win over the defaults.
 */
export function resolveJobConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): JobConfig {
  let config = defaultJobConfig();
  const infra = existsSync(join(infraRoot({}, env), 'infra.json')) ? readInfraAddresses({}, env) : addressesFor(resolvePorts({}, env));
  config.brokers = infra.kafka.brokers;
  config.redis = infra.redis.url;
  config.clickhouse = infra.clickhouse.url;
  if (flags.cluster || env.VT_CLUSTER === '1') {
    const cluster = readClusterAddresses({ root: infraRoot({}, env) });
    config.brokers = cluster.kafka.brokers;
    config.redis = cluster.redis.url;
    config.clickhouse = env.VT_CLUSTER_CLICKHOUSE ?? config.clickhouse;
  }
  const file = flags.config ?? env.VT_CONFIG;
  if (file) config = applyOverrides(config, loadConfigFile(file));
  const brokers = flags.brokers ?? env.VT_BROKERS;
  if (brokers) config.brokers = brokers.split(',').map((b) => b.trim()).filter(Boolean);
  config.topic = flags.topic ?? env.VT_TOPIC ?? config.topic;
  config.group = flags.group ?? env.VT_GROUP ?? config.group;
  config.clickhouse = flags.clickhouse ?? env.VT_CLICKHOUSE ?? config.clickhouse;
  config.redis = flags.redis ?? env.VT_REDIS ?? config.redis;
  config.botRulesPath = env.VT_BOT_RULES ?? config.botRulesPath;
  config.stateSeed = env.VT_STATE_SEED ?? config.stateSeed;
  config.flushIntervalMs = parseIntegerOption('VT_FLUSH_INTERVAL_MS', env.VT_FLUSH_INTERVAL_MS, { min: 1 }) ?? config.flushIntervalMs;
  config.checkpointIntervalMs = parseIntegerOption('VT_CHECKPOINT_INTERVAL_MS', env.VT_CHECKPOINT_INTERVAL_MS, { min: 1 }) ?? config.checkpointIntervalMs;
  config.sessionTimeoutMs = parseIntegerOption('VT_SESSION_TIMEOUT_MS', env.VT_SESSION_TIMEOUT_MS, { min: 1 }) ?? config.sessionTimeoutMs;
  const partitionsName = flags.partitions !== undefined ? '--partitions' : 'VT_PARTITIONS';
  config.partitions = parseIntegerOption(partitionsName, flags.partitions ?? env.VT_PARTITIONS, { min: 1, max: 1024 }) ?? config.partitions;
  return config;
}
