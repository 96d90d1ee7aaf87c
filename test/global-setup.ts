/**
 * vitest globalSetup: the local infra (Kafka, Redis, ClickHouse over HTTP) is up
 * before any test runs; tests find it with `readInfraAddresses()`.
 *
 * Quick when it is already running (a health check per service). Services this
 * setup started are stopped again after the run; ones that were already running
 * (someone's `viewtally infra up`) are left alone.
 */
import type { ServiceName } from '../infra/infra-paths.ts';
import { infraDown, infraUpDetailed } from '../infra/services.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const { started } = await infraUpDetailed({
    timeoutMs: 150_000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (started.length > 0) process.stderr.write(`infra: ready in ${Date.now() - t0} ms\n`);
  return async () => {
    if (started.length === 0) return;
    await infraDown({ services: started as ServiceName[], log: (line) => process.stderr.write(`${line}\n`) });
  };
}
