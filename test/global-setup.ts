/**
 * vitest globalSetup: the integration tests get local infra of their own (Kafka, Redis,
 * ClickHouse over HTTP) in `.viewtally/test/`, on ports of their own, so nothing they write
 * reaches the services `npm start` and `viewtally infra up` use. Tests find it as the CLI does:
 * this setup exports `VT_INFRA_DIR` and the `VT_*_PORT` variables before any test starts.
 *
 * The ports are kept in `.viewtally/test/ports.json` and reused while they are free or ours;
 * services already running there are reused too (quick), and only the services this setup
 * started are stopped afterwards.
 */
import { join } from 'node:path';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { freePort } from '../infra/free-port.ts';
import { REPO_ROOT, resolveConfig, servicePorts, SERVICE_NAMES, type InfraPorts, type ServiceName } from '../infra/infra-paths.ts';
import { portFree, runningPid } from '../infra/processes.ts';
import { infraDown, infraUpDetailed } from '../infra/services.ts';

const root = join(REPO_ROOT, '.viewtally', 'test');
const portsFile = join(root, 'ports.json');

function savedPorts(): InfraPorts | null {
  try {
    return JSON.parse(readFileSync(portsFile, 'utf8')) as InfraPorts;
  } catch {
    return null;
  }
}

/** Whether every service can run on `ports`: it runs there already, or its ports are free. */
async function usable(ports: InfraPorts): Promise<boolean> {
  const cfg = resolveConfig({ root, ports });
  for (const svc of SERVICE_NAMES) {
    if (runningPid(cfg, svc) !== null) continue;
    for (const p of servicePorts(cfg, svc)) if (!(await portFree(p))) return false;
  }
  return true;
}

async function testPorts(): Promise<InfraPorts> {
  const saved = savedPorts();
  if (saved && (await usable(saved))) return saved;
  if (saved) await infraDown({ root, ports: saved });
  const ports = { kafka: await freePort(), kafkaController: await freePort(), redis: await freePort(), clickhouse: await freePort() };
  mkdirSync(root, { recursive: true });
  writeFileSync(portsFile, `${JSON.stringify(ports)}\n`);
  return ports;
}

export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const ports = await testPorts();
  // Addresses set for the developer's own services must not lead the tests there.
  for (const name of ['VT_BROKERS', 'VT_REDIS', 'VT_CLICKHOUSE', 'VT_CONFIG']) delete process.env[name];
  Object.assign(process.env, {
    VT_INFRA_DIR: root,
    VT_KAFKA_PORT: String(ports.kafka),
    VT_KAFKA_CONTROLLER_PORT: String(ports.kafkaController),
    VT_REDIS_PORT: String(ports.redis),
    VT_CLICKHOUSE_PORT: String(ports.clickhouse),
  });
  const { started } = await infraUpDetailed({
    root,
    ports,
    timeoutMs: 150_000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (started.length > 0) process.stderr.write(`infra: tests' own services (${root}) ready in ${Date.now() - t0} ms\n`);
  return async () => {
    if (started.length === 0) return;
    await infraDown({ root, ports, services: started as ServiceName[], log: (line) => process.stderr.write(`${line}\n`) });
  };
}
