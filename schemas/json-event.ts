import { DateTime } from 'luxon';
import { InvalidEventError } from './errors.ts';
import { validateViewEvent, valueKind } from './event-validation.ts';
import type { ViewEvent } from './view-event.ts';

const REQUIRED_FIELDS = [
  'event_id', 'event_type', 'video_id', 'channel_id', 'category', 'session_id', 'ts', 'watch_ms',
  'country', 'device', 'traffic_source', 'ip', 'user_agent',
] as const;

// An explicit offset after the time part: Z, ±hh, ±hhmm or ±hh:mm. Luxon would otherwise
// silently read a bare local time in the process's own zone.
const ISO_OFFSET = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;
const TIME_DESIGNATOR = /[tT]/;

/**
 * Parses one view event in its JSON form: a JSON text (one JSONL line) or an
 * already parsed value. `ts` may be integer ms or ISO-8601 with an offset;
 * missing nullable fields become null; unknown fields are ignored. The result
 * is validated; failures are {@link InvalidEventError}s naming the field.
 */
export function parseJsonEvent(line: string | unknown): ViewEvent {
  const raw = typeof line === 'string' ? parseText(line) : line;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidEventError(`event: expected a JSON object, got ${valueKind(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  for (const field of REQUIRED_FIELDS) {
    if (o[field] === undefined) throw new InvalidEventError(`${field}: missing (required)`, field);
  }
  // Built field by field, in contract order, so extra fields are dropped and every event has one shape.
  const event = {
    event_id: o.event_id,
    event_type: o.event_type,
    video_id: o.video_id,
    channel_id: o.channel_id,
    category: o.category,
    viewer_id: o.viewer_id ?? null,
    owner_id: o.owner_id ?? null,
    session_id: o.session_id,
    ts: parseTs(o.ts),
    watch_ms: o.watch_ms,
    video_duration_ms: o.video_duration_ms ?? null,
    country: o.country,
    device: o.device,
    traffic_source: o.traffic_source,
    ip: o.ip,
    user_agent: o.user_agent,
    ja3: o.ja3 ?? null,
  } as ViewEvent;
  validateViewEvent(event);
  return event;
}

/** Renders an event as one line of JSON (no newline), fields in contract order, `ts` as integer ms. */
export function toJsonEvent(e: ViewEvent): string {
  return JSON.stringify({
    event_id: e.event_id,
    event_type: e.event_type,
    video_id: e.video_id,
    channel_id: e.channel_id,
    category: e.category,
    viewer_id: e.viewer_id,
    owner_id: e.owner_id,
    session_id: e.session_id,
    ts: e.ts,
    watch_ms: e.watch_ms,
    video_duration_ms: e.video_duration_ms,
    country: e.country,
    device: e.device,
    traffic_source: e.traffic_source,
    ip: e.ip,
    user_agent: e.user_agent,
    ja3: e.ja3,
  });
}

function parseText(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidEventError(`event: not valid JSON (${reason})`, undefined, err);
  }
}

/** Integer ms pass through (validation checks them); strings must be ISO-8601 with an explicit offset. */
function parseTs(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') {
    throw new InvalidEventError(`ts: expected integer ms or ISO-8601 string, got ${valueKind(v)}`, 'ts');
  }
  const timeStart = v.search(TIME_DESIGNATOR);
  if (timeStart < 0 || !ISO_OFFSET.test(v.slice(timeStart + 1))) {
    throw new InvalidEventError(
      `ts: expected an ISO-8601 date-time with an offset (Z or ±hh:mm), like 2024-06-01T12:00:00Z, got ${JSON.stringify(v.slice(0, 64))}`,
      'ts',
    );
  }
  const dt = DateTime.fromISO(v, { setZone: true });
  if (!dt.isValid) {
    throw new InvalidEventError(`ts: invalid ISO-8601 timestamp ${JSON.stringify(v.slice(0, 64))} (${dt.invalidReason})`, 'ts');
  }
  return dt.toMillis();
}
