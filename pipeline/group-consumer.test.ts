import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runKept } from './group-consumer.ts';

/** The part of a kafkajs consumer runKept uses: connect, run, and its CRASH and GROUP_JOIN events. */
function fakeConsumer() {
  const events = new EventEmitter();
  const consumer = {
    events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
    on: (name: string, fn: (e: unknown) => void) => events.on(name, fn),
    connect: vi.fn(async () => {}),
    run: vi.fn(async () => {}),
  };
  const crash = (error: Error, restart = false) => events.emit('consumer.crash', { payload: { error, restart } });
  const joined = () => events.emit('consumer.group_join', { payload: {} });
  return { consumer: consumer as unknown as Consumer & typeof consumer, crash, joined };
}

class KafkaJSGroupCoordinatorNotFound extends Error {
  override name = 'KafkaJSGroupCoordinatorNotFound';
}

describe('runKept', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the consumer again a second after a broker restart lost its group coordinator, and reports nothing', async () => {
    const { consumer, crash } = fakeConsumer();
    const fatal = vi.fn();
    runKept(consumer, { eachBatch: async () => {} }, new AbortController().signal, fatal);
    await vi.advanceTimersByTimeAsync(0);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    crash(new Error('the consumer stopped', { cause: new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator') }));
    await vi.advanceTimersByTimeAsync(999);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(consumer.run).toHaveBeenCalledTimes(2);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('leaves retriable failures to kafkajs, which restarts the consumer itself', async () => {
    const { consumer, crash } = fakeConsumer();
    const fatal = vi.fn();
    runKept(consumer, {}, new AbortController().signal, fatal);
    crash(new Error('connection closed'), true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('reports any other failure at once', async () => {
    const { consumer, crash } = fakeConsumer();
    const fatal = vi.fn();
    runKept(consumer, {}, new AbortController().signal, fatal);
    const err = new Error('not authorized');
    crash(err);
    expect(fatal).toHaveBeenCalledWith(err);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
  });

  it('gives up after 5 minutes of lost coordinators with no group joined; a join starts the count again', async () => {
    const { consumer, crash, joined } = fakeConsumer();
    const fatal = vi.fn();
    runKept(consumer, {}, new AbortController().signal, fatal);
    const lost = () => crash(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator'));
    lost();
    await vi.advanceTimersByTimeAsync(4 * 60_000);
    joined();
    lost();
    await vi.advanceTimersByTimeAsync(4 * 60_000);
    lost();
    expect(fatal).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(60_001);
    lost();
    expect(fatal).toHaveBeenCalledTimes(1);
  });

  it('does not run a stopping consumer again', async () => {
    const { consumer, crash } = fakeConsumer();
    const stop = new AbortController();
    runKept(consumer, {}, stop.signal, vi.fn());
    crash(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator'));
    stop.abort();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
  });
});
