import { describe, expect, it } from 'vitest';
import { filterClause, parseCount, parseFilters, parseRange, parseZone } from './query-params.ts';
import { InvalidQueryError } from './query-errors.ts';

function rejects(fn: () => unknown, parameter: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidQueryError);
    expect((err as InvalidQueryError).parameter).toBe(parameter);
    expect((err as InvalidQueryError).retriable).toBe(false);
    return;
  }
  throw new Error(`expected InvalidQueryError on ${parameter}`);
}

describe('parseRange', () => {
  it('reads text without an offset in the request zone', () => {
    const r = parseRange({ from: '2030-01-01', to: '2030-01-02T00:00:00Z', tz: 'America/Los_Angeles' });
    expect(r.from.toUTC().toISO()).toBe('2030-01-01T08:00:00.000Z');
    expect(r.to.toUTC().toISO()).toBe('2030-01-02T00:00:00.000Z');
    expect(r.tz).toBe('America/Los_Angeles');
  });

  it('accepts Dates and ms', () => {
    const r = parseRange({ from: new Date('2030-01-01T00:00:00Z'), to: Date.parse('2030-01-02T00:00:00Z') });
    expect(r.tz).toBe('UTC');
    expect(r.to.toMillis() - r.from.toMillis()).toBe(86_400_000);
  });

  it('refuses reversed, empty, overlong and malformed ranges', () => {
    rejects(() => parseRange({ from: '2030-01-02', to: '2030-01-01' }), 'to');
    rejects(() => parseRange({ from: '2030-01-01', to: '2030-01-01' }), 'to');
    rejects(() => parseRange({ from: '2010-01-01', to: '2030-01-01' }), 'to');
    rejects(() => parseRange({ from: "2030-01-01' OR 1=1 --", to: '2030-01-02' }), 'from');
    rejects(() => parseRange({ from: '2030-01-01', to: { toString: () => '2030' } }), 'to');
    rejects(() => parseRange({ from: 1.5, to: '2030-01-02' }), 'from');
    rejects(() => parseRange({ from: '1970-01-01', to: '2030-01-02' }), 'from');
  });
});

describe('parseZone', () => {
  it('knows IANA zones and spells them as ClickHouse does', () => {
    expect(parseZone(undefined)).toBe('UTC');
    expect(parseZone('america/los_angeles')).toBe('America/Los_Angeles');
    expect(parseZone('Asia/Kolkata')).toBe('Asia/Kolkata');
  });

  it('refuses anything else', () => {
    for (const tz of ['', 'Mars/Olympus', "UTC'); DROP TABLE views_minute; --", 'x'.repeat(100), 42]) rejects(() => parseZone(tz), 'tz');
  });
});

describe('parseFilters', () => {
  it('passes ids through (they are bound, not quoted) and checks enums', () => {
    expect(parseFilters({ videoId: "v' OR '1'='1", country: 'US', device: 'tv', trafficSource: 'search' })).toEqual({
      videoId: "v' OR '1'='1",
      country: 'US',
      device: 'tv',
      trafficSource: 'search',
    });
  });

  it('refuses bad values with the name of the filter', () => {
    rejects(() => parseFilters({ videoId: '' }), 'videoId');
    rejects(() => parseFilters({ videoId: 'x'.repeat(129) }), 'videoId');
    rejects(() => parseFilters({ channelId: 'a\u0000b' }), 'channelId');
    rejects(() => parseFilters({ category: 'a\nb' }), 'category');
    rejects(() => parseFilters({ country: "US' --" }), 'country');
    rejects(() => parseFilters({ country: 'us' }), 'country');
    rejects(() => parseFilters({ device: 'phone' }), 'device');
    rejects(() => parseFilters({ trafficSource: "search' OR 1" }), 'trafficSource');
  });

  it('writes only constant SQL; values go to parameters', () => {
    const f = filterClause({ videoId: "'; DROP TABLE x; --", country: 'US' });
    expect(f.sql).toBe(' AND video_id = {f_video_id:String} AND country = {f_country:String}');
    expect(f.params).toEqual({ f_video_id: "'; DROP TABLE x; --", f_country: 'US' });
  });
});

describe('parseCount', () => {
  it('takes integers in range, a default when absent', () => {
    expect(parseCount('limit', undefined, 1000, 20)).toBe(20);
    expect(parseCount('limit', 5, 1000, 20)).toBe(5);
    for (const v of [0, -1, 1001, 2.5, '5', NaN]) rejects(() => parseCount('limit', v, 1000, 20), 'limit');
  });
});
