import { describe, expect, it } from 'vitest';
import { StateChain } from './state-chain.ts';

describe('StateChain', () => {
  it('starts with a snapshot, then writes changes until they weigh as much as the snapshot', () => {
    const chain = new StateChain();
    expect(chain.nextIsFull(false)).toBe(true);
    chain.added(true, 100);
    const kinds: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const full = chain.nextIsFull();
      kinds.push(full);
      chain.added(full, full ? 100 : 40);
    }
    // 40, 80, then 120 ≥ 100: a snapshot, and the chain starts over
    expect(kinds).toEqual([false, false, false, true, false]);
  });

  it('holds back a due snapshot while asked to, until the changes weigh twice the snapshot', () => {
    const chain = new StateChain();
    chain.added(true, 100);
    const kinds: boolean[] = [];
    for (let i = 0; i < 7; i++) {
      const full = chain.nextIsFull(false);
      kinds.push(full);
      chain.added(full, full ? 100 : 40);
    }
    // changes 40, 80, 120 (due, held back), 160, 200 (forced), then the new chain's 40, 80
    expect(kinds).toEqual([false, false, false, false, false, true, false]);
  });

  it('restores where a stored chain stands, or starts a new chain', () => {
    const stored = [Buffer.alloc(100), Buffer.alloc(60), Buffer.alloc(30)];
    const chain = new StateChain();
    chain.restored(stored);
    expect([chain.nextIsFull(false), chain.nextIsFull()]).toEqual([false, false]);
    chain.added(false, 10);
    expect([chain.nextIsFull(false), chain.nextIsFull()]).toEqual([false, true]);
    chain.restored(stored, false);
    expect(chain.nextIsFull(false)).toBe(true);
  });

  it('ends a chain of many small changes with a snapshot, held back or not', () => {
    const chain = new StateChain();
    chain.added(true, 1_000_000);
    let links = 1;
    while (!chain.nextIsFull(false)) {
      chain.added(false, 1);
      links++;
    }
    expect(links).toBe(500);
  });
});
