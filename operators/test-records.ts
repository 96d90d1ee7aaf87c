import type { ViewEvent } from '../schemas/view-event.ts';
import { viewerKey } from '../schemas/viewer-key.ts';
import { Fingerprinter } from './fingerprint.ts';
import { rawRecord, type ViewRecord } from './view-record.ts';

/** The seeded fingerprints of the operator tests. */
export const TEST_FINGERPRINTS = new Fingerprinter('00000000000000000000000000c0ffee');

/** The fingerprint of a key string, as one bigint. */
export function fingerprintOf(key: string): bigint {
  TEST_FINGERPRINTS.string(key);
  return (BigInt(TEST_FINGERPRINTS.hi) << 32n) | BigInt(TEST_FINGERPRINTS.lo);
}

/** A valid counted-looking view event for operator tests; override any field. */
export function testEvent(overrides: Partial<ViewEvent> = {}): ViewEvent {
  return {
    event_id: 'e1',
    event_type: 'view',
    video_id: 'vid1',
    channel_id: 'ch1',
    category: 'music',
    viewer_id: 'viewer1',
    owner_id: null,
    session_id: 'sess1',
    ts: Date.UTC(2026, 0, 1, 12, 0, 10),
    watch_ms: 45_000,
    video_duration_ms: 300_000,
    country: 'DE',
    device: 'mobile',
    traffic_source: 'search',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    ja3: null,
    ...overrides,
  };
}

/** A decoded record of `event` at `offset`, arriving at Kafka one second after its event time, with its fingerprints set as classify sets them. */
export function testRecord(event: ViewEvent, offset = 0, kafkaTs = event.ts + 1000): ViewRecord {
  const r = rawRecord(offset, kafkaTs, null);
  r.event = event;
  const video = fingerprintOf(event.video_id);
  const viewer = fingerprintOf(viewerKey(event));
  r.videoHi = Number(video >> 32n);
  r.videoLo = Number(video & 0xffffffffn);
  r.viewerHi = Number(viewer >> 32n);
  r.viewerLo = Number(viewer & 0xffffffffn);
  return r;
}
