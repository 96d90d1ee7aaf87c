import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis, ReplyError } from 'ioredis';
import { redisErrorIsRetriable } from './redis-errors.ts';
import { redis, uniqueName } from '../test/harness.ts';
import type { RedisClient } from './redis-client.ts';

/** The error a call fails with. */
async function failure(call: Promise<unknown>): Promise<Error> {
  return call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (err: Error) => err,
  );
}

describe('redisErrorIsRetriable', () => {
  let rd: RedisClient;
  const key = uniqueName('redis-errors');

  beforeAll(async () => {
    rd = redis();
    await rd.set(key, 'not-a-count');
  });

  afterAll(async () => {
    await rd.del(key);
    rd.disconnect();
  });

  it("calls the server's refusals of the command itself permanent", async () => {
    const refusals = [
      await failure(rd.incrby(key, 1)), // ERR value is not an integer
      await failure(rd.lpush(key, 'x')), // WRONGTYPE
      await failure(rd.pfadd(key, 'x')), // WRONGTYPE Key is not a valid HyperLogLog string value
      await failure(rd.eval("redis.call('INCRBY', KEYS[1], 1)", 1, key)), // a script that fails half-way
      await failure(rd.eval('return nosuchvariable.field', 0)), // a script that is wrong
    ];
    for (const err of refusals) expect([err.name, err.message, redisErrorIsRetriable(err)]).toEqual([err.name, err.message, false]);
  });

  it('retries a discarded transaction as its commands’ errors say', async () => {
    // a real EXECABORT: a command of the transaction refused when queued (wrong arity)
    const wrong = await failure(rd.multi().set(key, 'x').call('get').exec());
    expect([wrong.message.startsWith('EXECABORT'), redisErrorIsRetriable(wrong)]).toEqual([true, false]);
    // a slot moved and a connection lost while a cluster master fails over: nothing was applied, send it again
    const movedAway = Object.assign(new ReplyError('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new ReplyError('MOVED 3912 127.0.0.1:7001'), new Error('Connection is closed.')] });
    expect(redisErrorIsRetriable(movedAway)).toBe(true);
    expect(redisErrorIsRetriable(new ReplyError('EXECABORT Transaction discarded because of previous errors.'))).toBe(false);
  });

  it('retries when there is no server to answer, or it says it is not ready yet', async () => {
    const closed = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    closed.on('error', () => {});
    const refused = await failure(closed.get('k'));
    closed.disconnect();
    expect(redisErrorIsRetriable(refused)).toBe(true);
    for (const reply of [
      'LOADING Redis is loading the dataset in memory',
      'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
      "READONLY You can't write against a read only replica.",
      "OOM command not allowed when used memory > 'maxmemory'.",
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
      'ERR max number of clients reached',
    ]) {
      expect([reply, redisErrorIsRetriable(new ReplyError(reply))]).toEqual([reply, true]);
    }
  });
});
