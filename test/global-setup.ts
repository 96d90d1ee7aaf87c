/**
 * vitest globalSetup: the integration tests get local infra of their own (Kafka, Redis,
 * ClickHouse over HTTP) in `.viewtally/test/`, on ports of their own, so nothing they write
 * reaches the services `npm start` and `viewtally infra up` use. Tests find it as the CLI does:
 * this setup exports `VT_INFRA_DIR` and the `VT_*_PORT` variables before any test starts.
 * Ports and running services are reused from the last run where possible (test/test-services.ts).
 */
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_NAMES } from '../infra/infra-paths.ts';
import { useTestServices } from './test-services.ts';

export const TEST_ROOT = join(REPO_ROOT, '.viewtally', 'test');

export default function setup(): Promise<() => Promise<void>> {
  return setupServicesIn(TEST_ROOT);
}

/** Starts (or reuses) the tests' services in `root` and points every client and child process of this vitest process there. */
export async function setupServicesIn(root: string): Promise<() => Promise<void>> {
  const t0 = Date.now();
  // Addresses set for the developer's own services must not lead the tests there.
  for (const name of ['VT_BROKERS', 'VT_REDIS', 'VT_CLICKHOUSE', 'VT_CONFIG']) delete process.env[name];
  const { ports, release } = await useTestServices(root, SERVICE_NAMES);
  Object.assign(process.env, {
    VT_INFRA_DIR: root,
    VT_KAFKA_PORT: String(ports.kafka),
    VT_KAFKA_CONTROLLER_PORT: String(ports.kafkaController),
    VT_REDIS_PORT: String(ports.redis),
    VT_CLICKHOUSE_PORT: String(ports.clickhouse),
  });
  process.stderr.write(`infra: tests' own services (${root}) ready in ${Date.now() - t0} ms\n`);
  return release;
}
