import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { resolveJobConfig, type ConnectionFlags } from './cli-config.ts';
import { runJob } from './job.ts';
import { runDemo } from './demo.ts';
import { reconcile } from './reconcile.ts';
import { jobStatus } from './status.ts';
import { exportCommand } from './export-command.ts';
import { benchCommand } from '../bench/bench-command.ts';
import { serveCommand } from '../api/serve-command.ts';
import { LOCAL_API, startApi } from '../api/start-api.ts';
import { Redis } from 'ioredis';
import { connectProducer, produceEvents, type ProduceInput } from './produce.ts';
import { ensureTopic } from './topic.ts';
import { createLogger } from './logger.ts';
import { printRows } from './print-rows.ts';
import { parseJsonEvent } from '../schemas/json-event.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { infraDown, infraStatus, infraUp, readInfraAddresses } from '../infra/services.ts';
import { migrate, renderSchema } from '../clickhouse/migrations.ts';

const program = new Command('viewtally').description('Exactly-once video view counting: Kafka → ClickHouse rollups and Redis live counters');

/** Adds the connection flags every job command takes. */
function withConnection(cmd: Command): Command {
  return cmd
    .option('--brokers <list>', 'Kafka brokers, comma separated (env VT_BROKERS)')
    .option('--topic <name>', 'topic of view events (env VT_TOPIC)', undefined)
    .option('--group <id>', 'consumer group (env VT_GROUP)')
    .option('--clickhouse <target>', 'http://host:port or embedded:<dir> (env VT_CLICKHOUSE)')
    .option('--redis <url>', 'Redis URL (env VT_REDIS)')
    .option('--config <file>', 'JSON file with any of the job settings; unknown keys are errors (env VT_CONFIG)');
}

const infra = program.command('infra').description('local Kafka, Redis and ClickHouse as processes (no Docker)');
infra.command('up').description('start what is missing and wait until every service answers').action(async () => {
  const addresses = await infraUp();
  console.log(JSON.stringify(addresses, null, 2));
});
infra.command('down').description('stop every local service').action(async () => {
  await infraDown();
});
infra
  .command('status')
  .description('show which services run and where')
  .option('--json', 'print the addresses as JSON')
  .action(async (opts: { json?: boolean }) => {
    const status = await infraStatus();
    if (opts.json) console.log(JSON.stringify({ addresses: status.every((s) => s.ok) ? readInfraAddresses() : null, services: status }, null, 2));
    else printRows(status as unknown as Record<string, unknown>[]);
  });

withConnection(program.command('migrate').description('apply the ClickHouse migrations'))
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

withConnection(program.command('produce').description('send JSONL view events (file or stdin) to the topic as Avro'))
  .option('--file <path>', 'JSONL file (default: stdin)')
  .option('--partitions <n>', 'partitions when the topic is created (env VT_PARTITIONS)')
  .action(async (flags: ConnectionFlags & { file?: string }) => {
    const config = resolveJobConfig(flags);
    const producer = await connectProducer({ brokers: config.brokers, topic: config.topic, partitions: config.partitions, clientId: 'viewtally-produce' });
    const lines = createInterface({ input: flags.file ? createReadStream(flags.file) : process.stdin, crlfDelay: Infinity });
    async function* inputs(): AsyncGenerator<ProduceInput> {
      let line = 0;
      for await (const text of lines) {
        line++;
        if (text.trim() === '') continue;
        try {
          yield { line, event: parseJsonEvent(text) };
        } catch (err) {
          yield { line, error: (err as Error).message };
        }
      }
    }
    let last = 0;
    const summary = await produceEvents(producer, config.topic, inputs(), {
      onProgress: (s) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        process.stderr.write(`\rsent ${s.sent}, rejected ${s.rejected.length}`);
      },
    });
    await producer.disconnect();
    process.stderr.write('\n');
    for (const r of summary.rejected.slice(0, 20)) console.error(`line ${r.line}: ${r.error}`);
    if (summary.rejected.length > 20) console.error(`… and ${summary.rejected.length - 20} more rejected lines`);
    console.log(JSON.stringify({ sent: summary.sent, rejected: summary.rejected.length }));
  });

withConnection(program.command('run').description('run the job: one consumer-group member'))
  .option('--until-idle', 'exit once every partition is drained and everything is written')
  .option('--metrics-port <n>', 'serve /metrics, /healthz and /readyz on 127.0.0.1:<n> (env VT_METRICS_PORT)')
  .option('--serve', 'also serve the read API, collector and dashboard from this process (one process can own an embedded ClickHouse)')
  .option('--port <n>', 'port for --serve (env VT_PORT)', process.env.VT_PORT ?? '8080')
  .option('--partitions <n>', 'partitions when the topic is created (env VT_PARTITIONS)')
  .action(async (flags: ConnectionFlags & { untilIdle?: boolean; metricsPort?: string; serve?: boolean; port: string }) => {
    const config = resolveJobConfig(flags);
    const log = createLogger('viewtally-run');
    const stop = new AbortController();
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, 'stopping: flush, checkpoint, leave the group');
        stop.abort();
        setTimeout(() => process.exit(1), 20_000).unref();
      });
    }
    const metricsPort = Number(flags.metricsPort ?? process.env.VT_METRICS_PORT ?? 0) || undefined;
    const api = flags.serve ? await startApi(config, { ...LOCAL_API, port: Number(flags.port), log }) : null;
    if (api) console.error(`dashboard and API on ${api.address}`);
    const summary = await runJob(config, { untilIdle: flags.untilIdle, log, signal: stop.signal, metricsPort });
    await api?.close();
    const rate = summary.elapsedMs > 0 ? Math.round((summary.events / summary.elapsedMs) * 1000) : 0;
    console.log(JSON.stringify({ ...summary, eventsPerSecond: rate }));
    process.exit(0); // flushed, checkpointed and out of the group: no client's timer may keep the process
  });

withConnection(program.command('sql').description('run a query against the configured ClickHouse and print the rows'))
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
    const kafka = new Kafka({ clientId: 'viewtally-reconcile', brokers: config.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [config.topic] });
    await admin.disconnect();
    const redis = new Redis(config.redis);
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

withConnection(program.command('status').description('lag, checkpoint age and watermark of every partition, at a glance'))
  .option('--json', 'one JSON object per partition')
  .action(async (flags: ConnectionFlags & { json?: boolean }) => {
    const config = resolveJobConfig(flags);
    const kafka = new Kafka({ clientId: 'viewtally-status', brokers: config.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const redis = new Redis(config.redis);
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
  .action(async (flags: ConnectionFlags & { rate: string }) => {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await runDemo(resolveJobConfig(flags), { eventsPerSecond: Number(flags.rate), signal: stop.signal });
  });

program.addCommand(serveCommand());
program.addCommand(exportCommand());
program.addCommand(benchCommand());

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`viewtally: ${err.message}`);
  process.exit(1);
});
