import { spawn } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { connectProducer, produceEvents } from '../pipeline/produce.ts';
import { resolveJobConfig } from '../pipeline/cli-config.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { migrate } from '../clickhouse/migrations.ts';
import { createRedisClient, type RedisClient } from '../sinks/redis-client.ts';
import type { ViewEvent } from '../schemas/view-event.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** A name no earlier run used: tests share the long-lived local services. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** The local services as the CLI finds them. */
export function localConfig() {
  return resolveJobConfig({});
}

/** Creates `topic` with `partitions` partitions and produces `events` to it, keyed as the job expects. */
export async function produceToTopic(topic: string, partitions: number, events: Iterable<ViewEvent>, keyOf?: (e: ViewEvent) => string): Promise<number> {
  const producer = await connectProducer({ brokers: localConfig().brokers, topic, partitions, clientId: 'test' });
  const summary = await produceEvents(producer, topic, (function* () {
    let line = 0;
    for (const event of events) yield { line: ++line, event, key: keyOf?.(event) };
  })());
  await producer.disconnect();
  if (summary.rejected.length > 0) throw new Error(`test events rejected: ${JSON.stringify(summary.rejected.slice(0, 3))}`);
  return summary.sent;
}

/** Runs `viewtally <args>` as a separate process, as an operator would; resolves with its stdout, rejects on a non-zero exit. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/viewtally.mjs', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`viewtally ${args.join(' ')} exited ${code}\n${stderr.slice(-4000)}`))));
  });
}

/** The last JSON line a command printed. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** A ClickHouse client on the local server, with the schema migrated. */
export async function clickhouse(): Promise<ClickHouseClient> {
  const client = createClickHouseClient(localConfig().clickhouse);
  await migrate(client);
  return client;
}

/** The sinks' clients for a describe block's tests: opened (schema migrated) before them, closed after. */
export function sinkClients(): { ch: ClickHouseClient; rd: RedisClient } {
  const clients = {} as { ch: ClickHouseClient; rd: RedisClient };
  beforeAll(async () => {
    clients.ch = await clickhouse();
    clients.rd = redis();
  });
  afterAll(async () => {
    await clients.ch?.close();
    clients.rd?.disconnect();
  });
  return clients;
}

/** Rows of a parameterised query. */
export async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

/** A Redis client on the local server or cluster; outage tests stop Redis on purpose, so its failures surface on commands only. */
export function redis(): RedisClient {
  return createRedisClient(localConfig().redis);
}

/** A stream mix with no bots and no shared IPs: every outcome follows from the deterministic rules. */
export const DETERMINISTIC_MIX = { human_nat: 0, human_vpn: 0, bot_declared: 0, bot_ja3: 0, bot_velocity: 0, bot_pattern: 0, bot_datacenter: 0, bot_replay: 0, human_cgnat: 0, bot_farm: 0 };
