import type { ViewEvent } from '../schemas/view-event.ts';
import { viewerKey } from '../schemas/viewer-key.ts';
import { rawRecord, type ViewRecord } from './view-record.ts';

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

/** A decoded record of `event` at `offset`, arriving at Kafka one second after its event time. */
export function testRecord(event: ViewEvent, offset = 0, kafkaTs = event.ts + 1000): ViewRecord {
  const r = rawRecord(offset, kafkaTs, null);
  r.event = event;
  r.viewerKey = viewerKey(event);
  return r;
}
