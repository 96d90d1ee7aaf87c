import fc from 'fast-check';
import { DateTime, FixedOffsetZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from './errors.ts';
import { parseJsonEvent, toJsonEvent } from './json-event.ts';
import { arbViewEvent, sampleViewEvent } from './view-event.arbitrary.ts';

function caught(fn: () => unknown): InvalidEventError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidEventError);
    return err as InvalidEventError;
  }
  throw new Error('expected an InvalidEventError, nothing was thrown');
}

const sampleJson = (): Record<string, unknown> => JSON.parse(toJsonEvent(sampleViewEvent()));

describe('parseJsonEvent / toJsonEvent', () => {
  it('round-trips every valid event unchanged through a JSON line (2000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, (e) => {
        const line = toJsonEvent(e);
        expect(line).not.toContain('\n');
        const parsed = parseJsonEvent(line);
        expect(parsed).toEqual(e);
        expect(Object.keys(parsed)).toEqual(Object.keys(e));
      }),
      { numRuns: 2000 },
    );
  });

  it('takes an already parsed object as well as a line', () => {
    expect(parseJsonEvent(sampleJson())).toEqual(sampleViewEvent());
  });

  it('takes ts as ISO-8601 in any offset and gives the same ms (2000 runs)', () => {
    const offsetMinutes = fc.integer({ min: -14 * 60, max: 14 * 60 });
    fc.assert(
      fc.property(arbViewEvent, offsetMinutes, (e, offset) => {
        const iso = DateTime.fromMillis(e.ts, { zone: FixedOffsetZone.instance(offset) }).toISO();
        expect(iso).toMatch(/(Z|[+-]\d{2}:\d{2})$/);
        expect(parseJsonEvent({ ...JSON.parse(toJsonEvent(e)), ts: iso }).ts).toBe(e.ts);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['2024-06-01T12:00:00Z', Date.UTC(2024, 5, 1, 12)],
    ['2024-06-01T12:00:00.123z', Date.UTC(2024, 5, 1, 12, 0, 0, 123)],
    ['2024-06-01T14:00:00+02:00', Date.UTC(2024, 5, 1, 12)],
    ['2024-06-01T14:00:00+0200', Date.UTC(2024, 5, 1, 12)],
    ['2024-06-01T07:00:00-05', Date.UTC(2024, 5, 1, 12)],
  ])('reads ts %s', (ts, ms) => {
    expect(parseJsonEvent({ ...sampleJson(), ts }).ts).toBe(ms);
  });

  it.each([
    ['2024-06-01T12:00:00', 'expected an ISO-8601 date-time with an offset'],
    ['2024-06-01', 'expected an ISO-8601 date-time with an offset'],
    ['2024-06-01T12:00:00[Europe/Paris]', 'expected an ISO-8601 date-time with an offset'],
    ['yesterday', 'expected an ISO-8601 date-time with an offset'],
    ['2024-13-01T00:00:00Z', 'invalid ISO-8601 timestamp'],
    ['2024-06-01 12:00:00Z', 'expected an ISO-8601 date-time with an offset'],
    ['2024-06-01T12:00:00+2', 'expected an ISO-8601 date-time with an offset'],
    ['2024-06-01T25:00:00Z', 'invalid ISO-8601 timestamp'],
    ['1999-12-31T23:59:59Z', 'out of range'],
  ])('rejects ts %j', (ts, text) => {
    const err = caught(() => parseJsonEvent({ ...sampleJson(), ts }));
    expect(err.field).toBe('ts');
    expect(err.message).toMatch(/^ts: /);
    expect(err.message).toContain(text);
  });

  it.each([[true, 'boolean'], [null, 'null'], [[1], 'array'], [{}, 'object']])('rejects ts of type %j', (ts, kind) => {
    expect(caught(() => parseJsonEvent({ ...sampleJson(), ts })).message).toBe(
      `ts: expected integer ms or ISO-8601 string, got ${kind}`,
    );
  });

  it('defaults missing nullable fields to null', () => {
    const o = sampleJson();
    delete o.viewer_id;
    delete o.owner_id;
    delete o.video_duration_ms;
    delete o.ja3;
    const e = parseJsonEvent(o);
    expect([e.viewer_id, e.owner_id, e.video_duration_ms, e.ja3]).toEqual([null, null, null, null]);
  });

  it.each([
    'event_id', 'event_type', 'video_id', 'channel_id', 'category', 'session_id', 'ts', 'watch_ms',
    'country', 'device', 'traffic_source', 'ip', 'user_agent',
  ])('names the missing required field %s', (field) => {
    const o = sampleJson();
    delete o[field];
    const err = caught(() => parseJsonEvent(o));
    expect(err.field).toBe(field);
    expect(err.message).toBe(`${field}: missing (required)`);
  });

  it.each([
    ['event_id', 12, 'event_id: expected string, got number'],
    ['video_id', null, 'video_id: expected string, got null'],
    ['viewer_id', 5, 'viewer_id: expected string, got number'],
    ['watch_ms', '30000', 'watch_ms: expected integer ≥ 0, got string'],
    ['watch_ms', 12.5, 'watch_ms: expected integer in 0..9007199254740990, got 12.5'],
    ['video_duration_ms', '1', 'video_duration_ms: expected integer > 0 or null, got string'],
    ['ts', 1.5, 'ts: expected integer ms since epoch, got 1.5'],
    ['device', 'phablet', 'device: unknown value "phablet" (expected one of desktop, mobile, tablet, tv, console, other)'],
    ['traffic_source', false, 'traffic_source: expected string, got boolean'],
    ['country', 'usa', 'country: expected ISO 3166-1 alpha-2'],
    ['ip', 'not-an-ip', 'ip: not a valid IPv4 or IPv6 address'],
  ])('names the field and expected type: %s = %j', (field, value, text) => {
    const err = caught(() => parseJsonEvent({ ...sampleJson(), [field]: value }));
    expect(err.field).toBe(field);
    expect(err.message).toContain(text);
  });

  it('ignores unknown fields and keeps them out of the event', () => {
    const e = parseJsonEvent(JSON.stringify({ ...sampleJson(), referrer: 'x', __proto__: { a: 1 }, extra: [1] }));
    expect(e).toEqual(sampleViewEvent());
    expect(Object.keys(e)).toEqual(Object.keys(sampleViewEvent()));
  });

  it('rejects text that is not JSON and JSON that is not an object', () => {
    expect(caught(() => parseJsonEvent('{"event_id":')).message).toMatch(/^event: not valid JSON \(/);
    for (const [value, kind] of [['[1]', 'array'], ['42', 'number'], ['null', 'null'], ['"x"', 'string']]) {
      expect(caught(() => parseJsonEvent(value)).message).toBe(`event: expected a JSON object, got ${kind}`);
    }
    expect(caught(() => parseJsonEvent(undefined)).message).toBe('event: expected a JSON object, got undefined');
  });

  it('renders ts as integer ms, fields in contract order', () => {
    const line = toJsonEvent(sampleViewEvent());
    expect(line.startsWith('{"event_id":"e-1","event_type":"view",')).toBe(true);
    expect(line).toContain(`"ts":${Date.UTC(2024, 5, 1, 12)},`);
    expect(line.endsWith('"ja3":null}')).toBe(true);
  });
});
