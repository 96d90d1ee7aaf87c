/**
 * vitest setupFiles: each test starts on a new turn of the event loop. A worker answers the
 * runner's RPC only when its event loop polls, and vitest gives each call a fixed 60 s
 * (reachable from no option), so a file of synchronous tests that together outlast 60 s on a
 * loaded machine ended a green run with "Timeout calling onTaskUpdate" (and the rest of the
 * chain unrun). setImmediate runs after the poll phase, so the replies already there are read.
 */
import { beforeEach } from 'vitest';

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
