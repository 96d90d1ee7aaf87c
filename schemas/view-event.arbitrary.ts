import fc from 'fast-check';
import { MAX_AVRO_LONG, MAX_TS_MS, MIN_TS_MS } from './event-validation.ts';
import { DEVICES, TRAFFIC_SOURCES, type ViewEvent } from './view-event.ts';

/** Per-field arbitraries that override the defaults of {@link viewEventArbitrary}. */
export type ViewEventFieldArbitraries = { [K in keyof ViewEvent]?: fc.Arbitrary<ViewEvent[K]> };

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

// 'binary' units are whole code points, each at most 2 UTF-16 units, so 64 units stay within 128 chars.
const unicodeText = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength, maxLength });
const noControls = (s: string): string => s.replace(CONTROL_CHARS, '_');

const id = (minLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.uuid(),
    fc.string({ unit: 'grapheme-ascii', minLength: Math.max(minLength, 1), maxLength: 128 }),
    unicodeText(minLength, 64).map(noControls),
  );

const userAgent = fc.oneof(
  fc.constantFrom(
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
    'Googlebot/2.1 (+http://www.google.com/bot.html)',
    '',
  ),
  unicodeText(0, 512),
);

const upperLetter = fc.integer({ min: 65, max: 90 }).map((c) => String.fromCharCode(c));

/** Valid view events (they pass `validateViewEvent`), with any field's arbitrary replaceable. */
export function viewEventArbitrary(overrides: ViewEventFieldArbitraries = {}): fc.Arbitrary<ViewEvent> {
  const defaults: { [K in keyof ViewEvent]-?: fc.Arbitrary<ViewEvent[K]> } = {
    event_id: id(1),
    event_type: fc.oneof(fc.constantFrom('view', 'heartbeat', 'poll', 'load', 'progress'), unicodeText(1, 32)),
    video_id: id(1),
    channel_id: id(0),
    category: fc.oneof(fc.constantFrom('music', 'gaming', 'news', ''), unicodeText(0, 64)),
    viewer_id: fc.option(id(0), { nil: null }),
    owner_id: fc.option(id(0), { nil: null }),
    session_id: id(1),
    ts: fc.integer({ min: MIN_TS_MS, max: MAX_TS_MS - 1 }),
    watch_ms: fc.oneof(fc.integer({ min: 0, max: 4 * 3_600_000 }), fc.integer({ min: 0, max: MAX_AVRO_LONG })),
    video_duration_ms: fc.option(fc.oneof(fc.integer({ min: 1, max: 4 * 3_600_000 }), fc.integer({ min: 1, max: MAX_AVRO_LONG })), { nil: null }),
    country: fc.oneof(fc.constantFrom('US', 'DE', 'IN', 'BR', 'ZZ'), fc.tuple(upperLetter, upperLetter).map(([a, b]) => a + b)),
    device: fc.constantFrom(...DEVICES),
    traffic_source: fc.constantFrom(...TRAFFIC_SOURCES),
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    user_agent: userAgent,
    ja3: fc.option(fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), unicodeText(1, 256)), { nil: null }),
  };
  return fc.record({ ...defaults, ...overrides }) as fc.Arbitrary<ViewEvent>;
}

/** A fixed, plain, valid event for example-based tests; a fresh object on every call. */
export function sampleViewEvent(): ViewEvent {
  return {
    event_id: 'e-1',
    event_type: 'view',
    video_id: 'vid-1',
    channel_id: 'ch-1',
    category: 'music',
    viewer_id: 'u-1',
    owner_id: null,
    session_id: 's-1',
    ts: Date.UTC(2024, 5, 1, 12),
    watch_ms: 45_000,
    video_duration_ms: 240_000,
    country: 'DE',
    device: 'mobile',
    traffic_source: 'search',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0',
    ja3: null,
  };
}

/** Any valid view event; for codec and operator property tests. */
export const arbViewEvent: fc.Arbitrary<ViewEvent> = viewEventArbitrary();
