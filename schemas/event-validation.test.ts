import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from './errors.ts';
import { MAX_AVRO_LONG, MAX_TS_MS, MIN_TS_MS, validateViewEvent, valueKind } from './event-validation.ts';
import { arbViewEvent, sampleViewEvent } from './view-event.arbitrary.ts';
import type { ViewEvent } from './view-event.ts';

function expectInvalid(patch: Record<string, unknown>, field: string, text: string | RegExp): void {
  const event = { ...sampleViewEvent(), ...patch } as unknown as ViewEvent;
  let caught: unknown;
  try {
    validateViewEvent(event);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidEventError);
  const err = caught as InvalidEventError;
  expect(err.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  if (typeof text === 'string') expect(err.message).toContain(text);
  else expect(err.message).toMatch(text);
}

describe('validateViewEvent', () => {
  it('accepts the sample and edge values', () => {
    expect(() => validateViewEvent(sampleViewEvent())).not.toThrow();
    const edges: Partial<ViewEvent>[] = [
      { ts: MIN_TS_MS }, { ts: MAX_TS_MS - 1 }, { watch_ms: 0 }, { watch_ms: MAX_AVRO_LONG }, { video_duration_ms: MAX_AVRO_LONG }, { video_duration_ms: null }, { video_duration_ms: 1 },
      { country: 'ZZ' }, { viewer_id: '' }, { channel_id: '' }, { user_agent: '' }, { ip: '::1' },
      { ip: '::ffff:192.168.100.200' }, { ip: '255.255.255.255' }, { ip: '0.0.0.0' }, { event_id: 'x'.repeat(128) },
      { ja3: '769,47-53-5-10,0-10-11,23-24,0' },
    ];
    for (const patch of edges) expect(() => validateViewEvent({ ...sampleViewEvent(), ...patch })).not.toThrow();
  });

  it('accepts every generated event (2000 runs)', () => {
    fc.assert(fc.property(arbViewEvent, (e) => validateViewEvent(e)), { numRuns: 2000 });
  });

  it.each([
    ['event_id', ''], ['video_id', ''], ['session_id', ''], ['event_type', ''],
  ])('%s must not be empty', (field, value) => expectInvalid({ [field]: value }, field, 'must not be empty'));

  it.each(['event_id', 'video_id', 'channel_id', 'session_id', 'viewer_id', 'owner_id'])('%s: at most 128 chars', (field) => {
    expectInvalid({ [field]: 'x'.repeat(129) }, field, 'too long (129 > 128 chars)');
  });

  it.each([
    ['event_id', 'a\nb'], ['video_id', 'v\u0000'], ['session_id', '\u007f'], ['viewer_id', 'u\u0085'],
    ['owner_id', '\t'], ['channel_id', 'c\r'],
  ])('%s: no control characters', (field, value) => expectInvalid({ [field]: value }, field, 'control character'));

  it.each([
    ['event_id', 42, 'expected string, got number'], ['video_id', null, 'expected string, got null'],
    ['category', [], 'expected string, got array'], ['user_agent', {}, 'expected string, got object'],
    ['viewer_id', 7, 'expected string, got number'], ['ja3', true, 'expected string, got boolean'],
  ])('%s: wrong type %j', (field, value, text) => expectInvalid({ [field]: value }, field, text));

  it('bounds user_agent, event_type, category and ja3', () => {
    expectInvalid({ user_agent: 'u'.repeat(1025) }, 'user_agent', 'too long (1025 > 1024 chars)');
    expectInvalid({ event_type: 't'.repeat(65) }, 'event_type', 'too long');
    expectInvalid({ category: 'c'.repeat(1025) }, 'category', 'too long');
    expectInvalid({ ja3: 'j'.repeat(1025) }, 'ja3', 'too long');
  });

  it.each([
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.', '.1.2.3', '1..2.3', ' 1.2.3.4', '1.2.3.4 ',
    'localhost', ':::', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4:80', `1:${'0:'.repeat(20)}1`,
  ])('ip %j is rejected', (ip) => {
    expectInvalid({ ip }, 'ip', ip.length > 45 ? 'too long' : ip === '' ? 'must not be empty' : 'not a valid IPv4 or IPv6 address');
  });

  it.each([
    [1.5, 'expected integer ms since epoch, got 1.5'], ['2024-01-01', 'got string'],
    [Number.NaN, 'got NaN'], [Date.UTC(1999, 11, 31), 'out of range'], [MAX_TS_MS, 'out of range'],
    [Number.POSITIVE_INFINITY, 'got Infinity'], [1_717_243_200, 'out of range'],
  ])('ts %j is rejected', (ts, text) => expectInvalid({ ts }, 'ts', text));

  it.each([
    [-1, 'got -1'], [0.5, 'got 0.5'], [Number.NaN, 'got NaN'], [Number.POSITIVE_INFINITY, 'got Infinity'],
    [2 ** 53, 'got 9007199254740992'], [MAX_AVRO_LONG + 1, 'expected integer in 0..9007199254740990'],
    ['10', 'got string'], [null, 'got null'],
  ])('watch_ms %j is rejected', (watch_ms, text) => expectInvalid({ watch_ms }, 'watch_ms', text));

  it.each([
    [0, 'got 0'], [-5, 'got -5'], [1.25, 'got 1.25'], ['60000', 'got string'], [Number.NaN, 'got NaN'],
  ])('video_duration_ms %j is rejected', (video_duration_ms, text) =>
    expectInvalid({ video_duration_ms }, 'video_duration_ms', text));

  it.each(['de', 'D', 'DEU', 'D1', '', 'ÄB', 'zz'])('country %j is rejected', (country) => {
    expectInvalid({ country }, 'country', 'two letters A–Z');
  });

  it('country must be a string', () => expectInvalid({ country: 49 }, 'country', 'expected string, got number'));

  it('device and traffic_source must be enum symbols, and the message lists them', () => {
    expectInvalid({ device: 'phablet' }, 'device', 'device: unknown value "phablet" (expected one of desktop, mobile, tablet, tv, console, other)');
    expectInvalid({ traffic_source: 'ads' }, 'traffic_source', 'unknown value "ads" (expected one of search, suggested, external');
    expectInvalid({ device: 3 }, 'device', 'expected string, got number');
  });

  it('reports the first bad field in contract order', () => {
    expectInvalid({ video_id: '', country: 'x' }, 'video_id', 'must not be empty');
  });

  it('keeps huge bad values out of the message', () => {
    const event = { ...sampleViewEvent(), event_id: `a\n${'x'.repeat(100)}` };
    expect(() => validateViewEvent(event)).toThrow(/control character: "a\\nx+…"$/);
  });
});

describe('valueKind', () => {
  it('names null and arrays apart from objects', () => {
    expect([null, [], {}, 1, 's', undefined, true].map(valueKind)).toEqual(['null', 'array', 'object', 'number', 'string', 'undefined', 'boolean']);
  });
});
