// Each command loads what it runs when it runs: a job's process need not load the API, the demo or the tools.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { resolveJobConfig, type ConnectionFlags } from './cli-config.ts';
import { STOP_GRACE_MS } from './config.ts';
import type { RunningApi } from './start-api.ts';
import { stopRequest, whenStopped } from './stop-request.ts';
import { availableParallelism } from 'node:os';
import { exportCommand } from './export-command.ts';
import { benchCommand } from '../bench/bench-command.ts';
import { serveCommand } from './serve-command.ts';
import { produceCommand } from './produce-command.ts';
import { createLogger } from './logger.ts';
import { printRows } from './print-rows.ts';
import { PORT_RANGE, parseIntegerOption } from './integer-option.ts';
import { withConnection } from './connection-flags.ts';
import { errorLines } from './cli-errors.ts';
import { createClickHouseClient, isEmbeddedTarget } from '../infra/clickhouse-client.ts';
import { infraDown, infraStatus, infraUp, readInfraAddresses } from '../infra/services.ts';
import { clusterDown, clusterStatus, clusterUp } from '../infra/cluster.ts';
import { infraRoot } from '../infra/infra-paths.ts';
import { migrate, renderSchema } from '../clickhouse/migrations.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('viewtally')
  .description('Exactly-once video view counting: Kafka → ClickHouse rollups and Redis live counters')
  .version(version, '-V, --version', 'print the version');

const infra = program.command('infra').description('local Kafka, Redis and ClickHouse as processes (no Docker)');
infra
  .command('up')
  .description('start what is missing and wait until every service answers')
  .option('--cluster', 'also three Kafka brokers (replication 3, min.insync.replicas 2) and a three-master Redis Cluster')
  .action(async (opts: { cluster?: boolean }) => {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const addresses = await infraUp({ log });
    console.log(JSON.stringify(opts.cluster ? { ...addresses, cluster: await clusterUp({ log }) } : addresses, null, 2));
  });
infra.command('down').description('stop every local service, the cluster too').action(async () => {
  await clusterDown();
  await infraDown();
});
infra
  .command('status')
  .description('show which services run and where')
  .option('--json', 'print the addresses as JSON')
  .action(async (opts: { json?: boolean }) => {
    const status = [...(await infraStatus()), ...(existsSync(join(infraRoot(), 'cluster.json')) ? await clusterStatus() : [])];
    if (opts.json) console.log(JSON.stringify({ addresses: status.every((s) => s.ok) ? readInfraAddresses() : null, services: status }, null, 2));
    else printRows(status as unknown as Record<string, unknown>[]);
  });

withConnection(program.command('migrate').description('apply the ClickHouse migrations'), ['clickhouse'])
  .option('--cluster <name>', 'render them for this cluster of the server (remote_servers): Replicated*MergeTree shard tables, Distributed tables, ON CLUSTER')
  .option('--print', 'print the statements instead of applying them')
  .action(async (flags: ConnectionFlags & { cluster?: string; print?: boolean }) => {
    const config = resolveJobConfig(flags);
    const client = createClickHouseClient(config.clickhouse);
    try {
      const database = flags.cluster === undefined ? '' : (await (await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' })).json<{ db: string }>())[0].db;
      const cluster = flags.cluster === undefined ? null : { cluster: flags.cluster, database };
      if (flags.print) {
        const schema = renderSchema(cluster);
        console.log([schema.migrationsTable, ...schema.migrations.flatMap((m) => m.statements)].map((s) => `${s};\n`).join('\n'));
        return;
      }
      const applied = await migrate(client, cluster);
      console.log(applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`);
    } finally {
      await client.close();
    }
  });

withConnection(program.command('run').description('run the job: one consumer-group member per worker thread'))
  .option('--until-idle', 'exit once every partition is drained and everything is written')
  .option('--workers <n>', 'consumer-group members in this process, one per worker thread (env VT_WORKERS; default: the number of cores)')
  .option('--metrics-port <n>', 'serve /metrics, /healthz and /readyz on 127.0.0.1:<n> (env VT_METRICS_PORT)')
  .option('--serve', 'also serve the read API, collector and dashboard from this process (one process can own an embedded ClickHouse)')
  .option('--port <n>', 'port for --serve (env VT_PORT)', process.env.VT_PORT ?? '8080')
  .option('--partitions <n>', 'partitions when the topic is created (env VT_PARTITIONS)')
  .action(async (flags: ConnectionFlags & { untilIdle?: boolean; metricsPort?: string; serve?: boolean; port: string; workers?: string }) => {
    const config = resolveJobConfig(flags);
    const log = createLogger('viewtally-run');
    const workers = parseIntegerOption('--workers', flags.workers ?? process.env.VT_WORKERS, { min: 1, max: 256 }) ?? availableParallelism();
    // An embedded ClickHouse belongs to the main thread: the job runs there, as one member.
    const embedded = isEmbeddedTarget(config.clickhouse);
    if (embedded && workers > 1) log.warn({ workers }, 'an embedded ClickHouse belongs to one thread: running one consumer-group member');
    whenStopped(() => {
      log.info({ signal: stopRequest.reason }, 'stopping: flush, checkpoint, leave the group');
      setTimeout(() => {
        log.error({ ms: STOP_GRACE_MS }, 'the stop took longer than its grace: exiting without a final checkpoint; the next owner replays from the last one');
        process.exit(1);
      }, STOP_GRACE_MS).unref();
    });
    const metricsPort = parseIntegerOption('--metrics-port', flags.metricsPort ?? process.env.VT_METRICS_PORT, PORT_RANGE) || undefined;
    const port = parseIntegerOption('--port', flags.port, PORT_RANGE) ?? 8080;
    let api: RunningApi | null = null;
    if (flags.serve) {
      const { LOCAL_API, startApi } = await import('./start-api.ts');
      api = await startApi(config, { ...LOCAL_API, port, log });
      console.error(`dashboard and API on ${api.address}`);
    }
    const run = { untilIdle: flags.untilIdle, log, signal: stopRequest, metricsPort };
    const summary = embedded ? await (await import('./job.ts')).runJob(config, run) : await (await import('./job-threads.ts')).runJobThreads(config, { ...run, workers });
    await api?.close();
    const rate = summary.elapsedMs > 0 ? Math.round((summary.events / summary.elapsedMs) * 1000) : 0;
    console.log(JSON.stringify({ ...summary, eventsPerSecond: rate }));
    process.exit(0); // flushed, checkpointed and out of the group: no client's timer may keep the process
  });

withConnection(program.command('sql').description('run a query against the configured ClickHouse and print the rows'), ['clickhouse'])
  .argument('<query>', 'the SQL query')
  .option('--json', 'one JSON object per row')
  .action(async (query: string, flags: ConnectionFlags & { json?: boolean }) => {
    const config = resolveJobConfig(flags);
    const client = createClickHouseClient(config.clickhouse);
    try {
      const rows = await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();
      if (flags.json) for (const r of rows) console.log(JSON.stringify(r));
      else printRows(rows);
    } finally {
      await client.close();
    }
  });

withConnection(program.command('reconcile').description('compare Redis live counts with ClickHouse per video; --fix restores Redis'))
  .option('--fix', 'restore Redis from ClickHouse and the checkpoints, then let the owners replay')
  .option('--json', 'print the full report as JSON')
  .action(async (flags: ConnectionFlags & { fix?: boolean; json?: boolean }) => {
    const config = resolveJobConfig(flags);
    const [{ createKafka }, { connectCommandRedis }, { reconcile }] = await Promise.all([import('./kafka-client.ts'), import('./command-redis.ts'), import('./reconcile.ts')]);
    const kafka = createKafka('viewtally-reconcile', config.brokers);
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [config.topic] });
    await admin.disconnect();
    const redis = await connectCommandRedis(config.redis);
    const client = createClickHouseClient(config.clickhouse);
    try {
      const partitions = meta.topics[0].partitions.map((p) => p.partitionId);
      const report = await reconcile({ config, redis, clickhouse: client, partitions, log: createLogger('viewtally-reconcile') }, { fix: Boolean(flags.fix) });
      if (flags.json) console.log(JSON.stringify(report));
      else {
        printRows(report.partitions);
        console.log(`${report.videos} videos; ${report.missing.length} below ClickHouse (lost increments), ${report.ahead.length} above (in flight)${report.fixed ? '; Redis restored' : ''}`);
        if (report.missing.length > 0) printRows(report.missing.slice(0, 20) as never);
      }
    } finally {
      redis.disconnect();
      await client.close();
    }
  });

withConnection(program.command('status').description('lag, checkpoint age and watermark of every partition, at a glance'), ['brokers', 'topic', 'group', 'redis'])
  .option('--json', 'one JSON object per partition')
  .action(async (flags: ConnectionFlags & { json?: boolean }) => {
    const config = resolveJobConfig(flags);
    const [{ createKafka }, { connectCommandRedis }, { jobStatus }] = await Promise.all([import('./kafka-client.ts'), import('./command-redis.ts'), import('./status.ts')]);
    const kafka = createKafka('viewtally-status', config.brokers);
    const admin = kafka.admin();
    await admin.connect();
    const redis = await connectCommandRedis(config.redis).catch(async (err: unknown) => {
      await admin.disconnect();
      throw err;
    });
    try {
      const status = await jobStatus(config, admin, redis);
      if (flags.json) for (const s of status) console.log(JSON.stringify(s));
      else printRows(status as unknown as Record<string, unknown>[]);
    } finally {
      await admin.disconnect();
      redis.disconnect();
    }
  });

withConnection(program.command('demo').description('local infra, a synthetic stream in real time, the job, and live counts (npm start)'))
  .option('--rate <n>', 'events per second to produce', '300')
  .option('--port <n>', 'port of the dashboard and API (env VT_PORT)', process.env.VT_PORT ?? '8080')
  .action(async (flags: ConnectionFlags & { rate: string; port: string }) => {
    const eventsPerSecond = parseIntegerOption('--rate', flags.rate, { min: 1, max: 1_000_000 }) ?? 300;
    const port = parseIntegerOption('--port', flags.port, PORT_RANGE) ?? 8080;
    const { runDemo } = await import('./demo.ts');
    await runDemo(() => resolveJobConfig(flags), { eventsPerSecond, port, signal: stopRequest });
  });

program.addCommand(produceCommand());
program.addCommand(serveCommand());
program.addCommand(exportCommand());
program.addCommand(benchCommand());

let running: Command | undefined;
program.hook('preAction', (_program, command) => {
  running = command;
});

/** The addresses the failed command used, to name the service that did not answer (none when the configuration itself is wrong). */
function servicesOf(command: Command | undefined) {
  try {
    return resolveJobConfig((command?.opts() ?? {}) as ConnectionFlags);
  } catch {
    return undefined;
  }
}

program.parseAsync(process.argv).catch((err: unknown) => {
  for (const line of errorLines(err, servicesOf(running))) console.error(`viewtally: ${line}`);
  process.exit(1);
});
