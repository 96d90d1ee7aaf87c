/**
 * vitest globalSetup of the `exclusive` project: services of its own in `.viewtally/test-exclusive/`
 * (test/global-setup.ts), as its files take them down, pause them or rewrite every live counter;
 * they run one at a time, and nothing else of the suite sees those services.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../infra/infra-paths.ts';
import { setupServicesIn } from './global-setup.ts';

export default function setup(): Promise<() => Promise<void>> {
  return setupServicesIn(join(REPO_ROOT, '.viewtally', 'test-exclusive'));
}
