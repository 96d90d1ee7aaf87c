/**
 * vitest globalSetup of the `cluster` project: the local services (ClickHouse is shared) and the
 * local cluster — three Kafka brokers and a three-master Redis Cluster — are up before any test;
 * the project's tests find them through `VT_CLUSTER=1`. What this setup started it stops again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { infraDown, infraRoot, infraUpDetailed, type ServiceName } from '../infra/services.ts';
import { clusterDown, clusterUp } from '../infra/cluster.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const { started } = await infraUpDetailed({ timeoutMs: 150_000, log });
  const clusterWasUp = existsSync(join(infraRoot(), 'cluster.json'));
  await clusterUp({ timeoutMs: 240_000, log });
  return async () => {
    if (!clusterWasUp) await clusterDown({ log });
    if (started.length > 0) await infraDown({ services: started as ServiceName[], log });
  };
}
