import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { KafkaJSConnectionError, KafkaJSLockTimeout, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { classifyKafkaError, internalProduceError } from './kafka-errors.ts';
import { isRetriable } from '../pipeline/retry.ts';

// The broker's error codes as kafkajs knows them, with kafkajs's own `retriable` for each.
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => KafkaJSProtocolError };

/** A non-retriable error wrapped the way kafkajs's retrier wraps it (its types leave out the cause). */
const wrapped = (e: Error) => new (KafkaJSNonRetriableError as new (e: Error, m: { cause: Error }) => Error)(e, { cause: e });

describe('classifyKafkaError', () => {
  it('blames the records for a refusal of their size or form, however kafkajs wraps it', () => {
    for (const code of [10, 18, 87, 32]) {
      const refusal = createErrorFromCode(code); // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD, INVALID_TIMESTAMP
      expect(classifyKafkaError(refusal)).toBe('record');
      expect(classifyKafkaError(wrapped(refusal))).toBe('record');
    }
  });

  it('retries what the broker or the network may recover from', () => {
    expect(classifyKafkaError(createErrorFromCode(6))).toBe('retriable'); // NOT_LEADER_FOR_PARTITION
    expect(classifyKafkaError(createErrorFromCode(3))).toBe('retriable'); // UNKNOWN_TOPIC_OR_PARTITION
    expect(classifyKafkaError(new KafkaJSConnectionError('Connection error: ECONNREFUSED'))).toBe('retriable');
    const gaveUp = createErrorFromCode(7); // REQUEST_TIMED_OUT, after kafkajs's own retries
    expect(classifyKafkaError(new KafkaJSNumberOfRetriesExceeded(gaveUp, { retryCount: 5, retryTime: 1000 }))).toBe('retriable');
    expect(classifyKafkaError(new Error('socket hang up'))).toBe('retriable');
    const lockTimeout = new (KafkaJSLockTimeout as unknown as new (message: string) => Error)('Timeout while acquiring lock (3 waiting locks)');
    expect(lockTimeout.name).toBe('KafkaJSLockTimeout');
    expect(classifyKafkaError(wrapped(lockTimeout))).toBe('retriable');
  });

  it('calls fatal what no retry and no split can fix', () => {
    expect(classifyKafkaError(createErrorFromCode(29))).toBe('fatal'); // TOPIC_AUTHORIZATION_FAILED
    expect(classifyKafkaError(wrapped(createErrorFromCode(21)))).toBe('fatal'); // INVALID_REQUIRED_ACKS
    expect(classifyKafkaError(new KafkaJSNonRetriableError('The producer is disconnected'))).toBe('fatal');
  });
});

describe('internalProduceError', () => {
  it('retries an outage of a produce to an internal topic and stops the job on any refusal', () => {
    expect(isRetriable(internalProduceError('t.by-address', new KafkaJSConnectionError('Connection error: ECONNREFUSED')))).toBe(true);
    const refused = internalProduceError('t.address-verdicts', createErrorFromCode(29)); // TOPIC_AUTHORIZATION_FAILED
    expect(isRetriable(refused)).toBe(false);
    expect(refused.message).toContain('t.address-verdicts');
    expect(isRetriable(internalProduceError('t.by-address', createErrorFromCode(10)))).toBe(false); // MESSAGE_TOO_LARGE
  });
});
