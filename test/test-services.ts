/**
 * Local services for the test runs, shared by every vitest process that uses the same folder.
 *
 * `npm test` runs its two chains side by side (test/run-suite.sh), and the cluster chain uses
 * the single-node services too, so the process that started a service may finish while another
 * still uses it. Each process registers itself in `<root>/run/test-users/`; the last one out
 * stops whatever any of them started.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../infra/free-port.ts';
import { resolveConfig, serviceDataDir, servicePorts, type InfraPorts, type ServiceName } from '../infra/infra-paths.ts';
import { isAlive, portFree, runningPid } from '../infra/processes.ts';
import { infraDown, infraUpDetailed } from '../infra/services.ts';
import { withLock } from '../infra/infra-lock.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Whether `services` can run on `ports`: each runs there already, or its ports are free. */
async function usable(root: string, ports: InfraPorts, services: readonly ServiceName[]): Promise<boolean> {
  const cfg = resolveConfig({ root, ports });
  for (const svc of services) {
    if (runningPid(cfg, svc) !== null) continue;
    for (const p of servicePorts(cfg, svc)) if (!(await portFree(p))) return false;
  }
  return true;
}

/** The ports of the last run (`<root>/ports.json`) while they are free or still ours; new free ones otherwise. */
async function testPorts(root: string, services: readonly ServiceName[]): Promise<InfraPorts> {
  const portsFile = join(root, 'ports.json');
  const saved = existsSync(portsFile) ? (JSON.parse(readFileSync(portsFile, 'utf8')) as InfraPorts) : null;
  if (saved && (await usable(root, saved, services))) return saved;
  if (saved) await infraDown({ root, ports: saved, services });
  const ports = { kafka: await freePort(), kafkaController: await freePort(), redis: await freePort(), clickhouse: await freePort() };
  mkdirSync(root, { recursive: true });
  writeFileSync(portsFile, `${JSON.stringify(ports)}\n`);
  return ports;
}

/**
 * Starts `services` in `root` unless they run; resolves with their ports and the teardown that
 * stops, once no other live process uses the folder, every service a test process started there.
 */
export async function useTestServices(root: string, services: readonly ServiceName[]): Promise<{ ports: InfraPorts; release: () => Promise<void> }> {
  const users = join(root, 'run', 'test-users');
  const startedFile = join(root, 'run', 'test-started.json');
  mkdirSync(users, { recursive: true });
  writeFileSync(join(users, String(process.pid)), '');
  // One process at a time picks the ports and starts what is missing (infraUp's own lock is taken inside).
  const setupLock = { ...resolveConfig({ root }), runDir: join(root, 'run', 'test-setup') };
  const ports = await withLock(setupLock, 300_000, async () => {
    const chosen = await testPorts(root, services);
    // A service that is not running starts empty: every test file uses names of its own, and what
    // earlier runs left only slowed each start and filled the disk (7 GB after five runs).
    const cfg = resolveConfig({ root, ports: chosen });
    for (const svc of services) if (runningPid(cfg, svc) === null) rmSync(serviceDataDir(cfg, svc), { recursive: true, force: true });
    const { started } = await infraUpDetailed({ root, ports: chosen, services, timeoutMs: 150_000, log });
    if (started.length > 0) {
      const before = existsSync(startedFile) ? (JSON.parse(readFileSync(startedFile, 'utf8')) as ServiceName[]) : [];
      writeFileSync(startedFile, JSON.stringify([...new Set([...before, ...started])]));
    }
    return chosen;
  });
  return {
    ports,
    release: async () => {
      // Leave first, then look: of two processes leaving at once, at least one sees nobody left.
      rmSync(join(users, String(process.pid)), { force: true });
      const others = readdirSync(users).filter((pid) => isAlive(Number(pid)));
      if (others.length > 0 || !existsSync(startedFile)) return;
      const toStop = JSON.parse(readFileSync(startedFile, 'utf8')) as ServiceName[];
      rmSync(startedFile, { force: true });
      await infraDown({ root, ports, services: toStop, log });
    },
  };
}
