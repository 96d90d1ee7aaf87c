import type { Command } from 'commander';

/** A connection flag a command may take. */
export type ConnectionFlag = 'brokers' | 'topic' | 'group' | 'clickhouse' | 'redis';

const OPTIONS: Record<ConnectionFlag, [flags: string, description: string]> = {
  brokers: ['--brokers <list>', 'Kafka brokers, comma separated (env VT_BROKERS)'],
  topic: ['--topic <name>', 'topic of view events (env VT_TOPIC)'],
  group: ['--group <id>', 'consumer group (env VT_GROUP)'],
  clickhouse: ['--clickhouse <target>', 'http://host:port or embedded:<dir> (env VT_CLICKHOUSE)'],
  redis: ['--redis <url>', 'Redis URL: redis://host:port, or redis-cluster://host:port,host:port,… for a Redis Cluster (env VT_REDIS)'],
};

/** Every connection flag: for the commands that use Kafka, Redis and ClickHouse. */
export const ALL_CONNECTION_FLAGS: readonly ConnectionFlag[] = ['brokers', 'topic', 'group', 'clickhouse', 'redis'];

/** Adds the connection flags the command uses, and `--config`. */
export function withConnection(cmd: Command, flags: readonly ConnectionFlag[] = ALL_CONNECTION_FLAGS): Command {
  for (const f of flags) cmd.option(...OPTIONS[f]);
  if (flags.includes('brokers') || flags.includes('redis')) {
    cmd.option('--cluster', 'use the local Kafka and Redis clusters (env VT_CLUSTER=1)');
  }
  return cmd.option('--config <file>', 'JSON file with any of the job settings; unknown keys are errors (env VT_CONFIG)');
}
