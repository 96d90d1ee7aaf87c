/**
 * vitest globalSetup of the `exclusive` project: the tests' own services (test/global-setup.ts),
 * held exclusively while its files take them down or pause them (test/test-services.ts).
 */
import setupServices, { TEST_ROOT } from './global-setup.ts';
import { holdExclusive } from './test-services.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const stopServices = await setupServices();
  const release = await holdExclusive(TEST_ROOT);
  return async () => {
    release();
    await stopServices();
  };
}
