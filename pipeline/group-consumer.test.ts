import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runKept } from './group-consumer.ts';

/**
 * runKept over the part of a kafkajs consumer it uses (connect, run, its CRASH and GROUP_JOIN
 * events): the consumer, ways to crash and join it, the fatal-failure spy and the stop signal.
 */
function keptConsumer(connectFailures: Error[] = []) {
  const events = new EventEmitter();
  const consumer = {
    events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
    on: (name: string, fn: (e: unknown) => void) => events.on(name, fn),
    connect: vi.fn(async () => {}),
    run: vi.fn(async () => {}),
  };
  for (const err of connectFailures) consumer.connect.mockRejectedValueOnce(err);
  const fatal = vi.fn();
  const stop = new AbortController();
  runKept(consumer as unknown as Consumer, { eachBatch: async () => {} }, stop.signal, fatal);
  const crash = (error: Error, restart = false) => events.emit('consumer.crash', { payload: { error, restart } });
  const joined = () => events.emit('consumer.group_join', { payload: {} });
  return { consumer, crash, joined, fatal, stop };
}

class KafkaJSGroupCoordinatorNotFound extends Error {
  override name = 'KafkaJSGroupCoordinatorNotFound';
}

describe('runKept', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the consumer again a second after a broker restart lost its group coordinator, and reports nothing', async () => {
    const { consumer, crash, fatal } = keptConsumer();
    await vi.advanceTimersByTimeAsync(0);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    crash(new Error('the consumer stopped', { cause: new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator') }));
    await vi.advanceTimersByTimeAsync(999);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(consumer.run).toHaveBeenCalledTimes(2);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('runs it again while the restarted broker still refuses connections, and reports a first start that cannot connect at once', async () => {
    const { consumer, crash, fatal } = keptConsumer();
    await vi.advanceTimersByTimeAsync(0);
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true });
    consumer.connect.mockRejectedValueOnce(refused).mockRejectedValueOnce(refused);
    crash(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator'));
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(consumer.connect).toHaveBeenCalledTimes(4);
    expect(consumer.run).toHaveBeenCalledTimes(2);
    expect(fatal).not.toHaveBeenCalled();

    const first = keptConsumer([refused]);
    await vi.advanceTimersByTimeAsync(0);
    expect(first.fatal).toHaveBeenCalledWith(refused);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(first.consumer.connect).toHaveBeenCalledTimes(1);
  });

  it('leaves retriable failures to kafkajs, which restarts the consumer itself', async () => {
    const { consumer, crash, fatal } = keptConsumer();
    crash(new Error('connection closed'), true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('reports any other failure at once', async () => {
    const { consumer, crash, fatal } = keptConsumer();
    const err = new Error('not authorized');
    crash(err);
    expect(fatal).toHaveBeenCalledWith(err);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
  });

  it('gives up after 5 minutes of lost coordinators with no group joined; a join starts the count again', async () => {
    const { crash, joined, fatal } = keptConsumer();
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
    const { consumer, crash, stop } = keptConsumer();
    crash(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator'));
    stop.abort();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(consumer.run).toHaveBeenCalledTimes(1);
  });
});
