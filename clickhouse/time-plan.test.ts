import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { DEFAULT_RETENTION } from './retention.ts';
import { bucketStarts, chooseGranularity, DAY_MS, HOUR_MS, isUtcThroughout, MINUTE_MS, planSeries, planTiers } from './time-plan.ts';

const NOW = Date.parse('2030-03-20T12:00:00Z');
const t = (iso: string) => Date.parse(iso);
const lenOf = ([a, b]: readonly [number, number]) => b - a;

describe('chooseGranularity', () => {
  it('minute up to 48 h, hour up to 90 days, day beyond', () => {
    expect(chooseGranularity(NOW - 48 * HOUR_MS, NOW, NOW, DEFAULT_RETENTION)).toBe('minute');
    expect(chooseGranularity(NOW - 48 * HOUR_MS - MINUTE_MS, NOW, NOW, DEFAULT_RETENTION)).toBe('hour');
    expect(chooseGranularity(NOW - 90 * DAY_MS, NOW, NOW, DEFAULT_RETENTION)).toBe('hour');
    expect(chooseGranularity(NOW - 90 * DAY_MS - HOUR_MS, NOW, NOW, DEFAULT_RETENTION)).toBe('day');
  });

  it('goes coarser when the finer rows of the range start have expired', () => {
    const from = NOW - 10 * DAY_MS;
    expect(chooseGranularity(from, from + HOUR_MS, NOW, DEFAULT_RETENTION)).toBe('hour');
    const older = NOW - 100 * DAY_MS;
    expect(chooseGranularity(older, older + HOUR_MS, NOW, DEFAULT_RETENTION)).toBe('day');
    expect(chooseGranularity(older, older + HOUR_MS, NOW, { minuteDays: 'forever', hourDays: 'forever', dayDays: 'forever' })).toBe('minute');
  });
});

describe('planTiers', () => {
  it('reads minute rows at ragged ends, hour rows around whole days, day rows between', () => {
    const p = planTiers(t('2030-03-15T10:30:00Z'), t('2030-03-19T14:15:00Z'), NOW, DEFAULT_RETENTION);
    expect(p.minute).toEqual([[t('2030-03-15T10:30:00Z'), t('2030-03-15T11:00:00Z')], [t('2030-03-19T14:00:00Z'), t('2030-03-19T14:15:00Z')]]);
    expect(p.hour).toEqual([[t('2030-03-15T11:00:00Z'), t('2030-03-16T00:00:00Z')], [t('2030-03-19T00:00:00Z'), t('2030-03-19T14:00:00Z')]]);
    expect(p.day).toEqual(['2030-03-16', '2030-03-19']);
    expect([p.fromMs, p.toMs]).toEqual([t('2030-03-15T10:30:00Z'), t('2030-03-19T14:15:00Z')]);
  });

  it('snaps an end outwards to the hour or day when finer rows have expired', () => {
    const p = planTiers(t('2030-03-01T10:30:00Z'), t('2030-03-19T14:15:00Z'), NOW, DEFAULT_RETENTION);
    expect(p.fromMs).toBe(t('2030-03-01T10:00:00Z'));
    const q = planTiers(t('2029-11-01T10:30:00Z'), t('2030-03-19T14:15:00Z'), NOW, DEFAULT_RETENTION);
    expect(q.fromMs).toBe(t('2029-11-01T00:00:00Z'));
    expect(q.day[0]).toBe('2029-11-01');
  });

  it('covers the snapped range exactly once, with rows that exist', () => {
    const start = t('2029-01-01T00:00:00Z');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 450 * 24 * 60 }), fc.integer({ min: 1, max: 200 * 24 * 60 }), (a, len) => {
        const from = start + a * MINUTE_MS + 17_000;
        const to = Math.min(from + len * MINUTE_MS, NOW + DAY_MS);
        if (to <= from) return;
        const p = planTiers(from, to, NOW, DEFAULT_RETENTION);
        const days = (Date.parse(p.day[1]) - Date.parse(p.day[0])) || 0;
        const covered = lenOf(p.minute[0]) + lenOf(p.minute[1]) + lenOf(p.hour[0]) + lenOf(p.hour[1]) + days;
        expect(covered).toBe(p.toMs - p.fromMs);
        expect(p.fromMs).toBeLessThanOrEqual(from);
        expect(p.toMs).toBeGreaterThanOrEqual(to);
        for (const m of p.minute) if (lenOf(m) > 0) expect(m[0]).toBeGreaterThanOrEqual(NOW - 7 * DAY_MS);
        for (const h of p.hour) if (lenOf(h) > 0) expect(h[0]).toBeGreaterThanOrEqual(NOW - 90 * DAY_MS);
      }),
    );
  });
});

describe('planSeries', () => {
  it('builds days in the zone from hour rows while they exist', () => {
    const from = DateTime.fromISO('2030-01-01', { zone: 'America/Los_Angeles' });
    const to = DateTime.fromISO('2030-03-20', { zone: 'America/Los_Angeles' });
    const p = planSeries(from, to, NOW, DEFAULT_RETENTION);
    expect(p.granularity).toBe('hour');
    const longer = planSeries(DateTime.fromISO('2029-12-01', { zone: 'America/Los_Angeles' }), to, NOW, DEFAULT_RETENTION);
    expect(longer.granularity).toBe('day');
    // now − 90 days = 2029-12-20T12:00Z: the seam is the next UTC midnight
    expect(longer.dayRows).toEqual(['2029-12-01', '2029-12-21']);
    expect(longer.hourRows).toEqual([t('2029-12-21T00:00:00Z'), t('2030-03-20T07:00:00Z')]);
    expect(longer.utcDaysBefore).toBe('2029-12-21');
    const buckets = bucketStarts(longer, DateTime.fromISO('2029-12-01', { zone: 'America/Los_Angeles' }));
    expect(buckets.length).toBe(109);
    // 2030-03-10 is 23 hours long in Los Angeles
    const i = buckets.indexOf(t('2030-03-10T08:00:00Z'));
    expect(buckets[i + 1] - buckets[i]).toBe(23 * HOUR_MS);
  });

  it('reads only day rows for UTC and zones that stay at UTC', () => {
    const p = planSeries(DateTime.fromISO('2029-06-01', { zone: 'UTC' }), DateTime.fromISO('2030-03-01', { zone: 'UTC' }), NOW, DEFAULT_RETENTION);
    expect(p.dayRows).toEqual(['2029-06-01', '2030-03-01']);
    expect(lenOf(p.hourRows!)).toBe(0);
    expect(p.utcDaysBefore).toBeUndefined();
    expect(isUtcThroughout('Atlantic/Reykjavik', t('2029-01-01T00:00:00Z'), t('2030-01-01T00:00:00Z'))).toBe(true);
    expect(isUtcThroughout('Europe/London', t('2029-01-01T00:00:00Z'), t('2030-01-01T00:00:00Z'))).toBe(false);
  });

  it('aligns minute and hour buckets to the row time', () => {
    const from = DateTime.fromISO('2030-03-19T10:30:20Z', { zone: 'Asia/Kolkata' });
    const p = planSeries(from, from.plus({ hours: 3 }), NOW, DEFAULT_RETENTION);
    expect(p.granularity).toBe('minute');
    expect(p.rows).toEqual([t('2030-03-19T10:30:00Z'), t('2030-03-19T13:31:00Z')]);
    expect(bucketStarts(p, from).length).toBe(181);
  });
});
