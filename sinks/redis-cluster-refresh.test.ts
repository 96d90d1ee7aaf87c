import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';

// ioredis's periodic slot refresh as patched in patches/ioredis+*.patch (applied by `npm install`).
// Unpatched, a refresh still running when the client is disconnected re-arms the timer once it
// ends, and then refreshes forever: a one-shot command (`reconcile`, `status`) on a Redis Cluster
// never exited. No server is involved: the refresh itself is held, to end it after the disconnect.
type RefreshInternals = {
  slotsTimer: NodeJS.Timeout | null;
  refreshSlotsCache: (callback?: (err?: Error) => void) => void;
  resetNodesRefreshInterval: () => void;
  clearNodesRefreshInterval: () => void;
};

describe('Redis Cluster slot refresh (patched)', () => {
  it('arms no timer again when the client was disconnected during a refresh', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, slotsRefreshInterval: 10 });
    const internals = cluster as unknown as RefreshInternals;
    const pending: ((err?: Error) => void)[] = [];
    internals.refreshSlotsCache = (callback) => void (callback && pending.push(callback));
    internals.resetNodesRefreshInterval();
    while (pending.length === 0) await sleep(5);
    internals.clearNodesRefreshInterval(); // what disconnect() and quit() do
    pending[0]();
    expect(internals.slotsTimer).toBeNull();
    await sleep(50);
    expect(pending).toHaveLength(1);
  });

  it('goes on refreshing while connected', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, slotsRefreshInterval: 10 });
    const internals = cluster as unknown as RefreshInternals;
    let rounds = 0;
    internals.refreshSlotsCache = (callback) => {
      rounds++;
      callback?.();
    };
    internals.resetNodesRefreshInterval();
    while (rounds < 3) await sleep(5);
    internals.clearNodesRefreshInterval();
    expect(internals.slotsTimer).toBeNull();
  });
});
