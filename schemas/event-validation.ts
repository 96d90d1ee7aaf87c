import { isIPv6 } from 'node:net';
import { InvalidEventError } from './errors.ts';
import { parseIPv4 } from './ip-address.ts';
import { DEVICES, TRAFFIC_SOURCES, type ViewEvent } from './view-event.ts';

/** Longest accepted id (`event_id`, `video_id`, `channel_id`, `session_id`, `viewer_id`, `owner_id`), in UTF-16 code units. */
export const MAX_ID_LENGTH = 128;
/** Longest accepted `user_agent`, in UTF-16 code units. */
export const MAX_USER_AGENT_LENGTH = 1024;
/** Longest accepted `ip` (an IPv6 address with an embedded IPv4 tail is 45 characters). */
export const MAX_IP_LENGTH = 45;
/** Longest accepted `event_type`; the set of types is open but a type is a short word. */
export const MAX_EVENT_TYPE_LENGTH = 64;
/** Longest accepted `category` and `ja3`. */
export const MAX_TEXT_LENGTH = 1024;
/** Largest long avsc reads or writes as a JS number without refusing it for possible precision loss (2^53 − 2). */
export const MAX_AVRO_LONG = 9_007_199_254_740_990;
/** Earliest plausible `ts`: 2000-01-01T00:00:00Z. Future skew against the clock is checked later, in the pipeline. */
export const MIN_TS_MS = Date.UTC(2000, 0, 1);
/** First implausible `ts`: 2100-01-01T00:00:00Z. */
export const MAX_TS_MS = Date.UTC(2100, 0, 1);

// C0, DEL and C1 controls; compiled once, the validator runs per event on the hot path.
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;
const DEVICE_SET: ReadonlySet<string> = new Set(DEVICES);
const TRAFFIC_SOURCE_SET: ReadonlySet<string> = new Set(TRAFFIC_SOURCES);
const DEVICE_LIST = DEVICES.join(', ');
const TRAFFIC_SOURCE_LIST = TRAFFIC_SOURCES.join(', ');

/** Name of a value's runtime kind for error messages: `null`, `array`, or its `typeof`. */
export function valueKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Checks the semantics of a decoded or parsed event; throws {@link InvalidEventError} naming the first field at fault. */
export function validateViewEvent(e: ViewEvent): void {
  checkId('event_id', e.event_id, false);
  checkString('event_type', e.event_type, MAX_EVENT_TYPE_LENGTH, false);
  checkId('video_id', e.video_id, false);
  checkId('channel_id', e.channel_id, true);
  checkString('category', e.category, MAX_TEXT_LENGTH, true);
  if (e.viewer_id !== null) checkId('viewer_id', e.viewer_id, true);
  if (e.owner_id !== null) checkId('owner_id', e.owner_id, true);
  checkId('session_id', e.session_id, false);
  checkTs(e.ts);
  checkWatchMs(e.watch_ms);
  checkDuration(e.video_duration_ms);
  checkCountry(e.country);
  if (!DEVICE_SET.has(e.device)) throw enumError('device', e.device, DEVICE_LIST);
  if (!TRAFFIC_SOURCE_SET.has(e.traffic_source)) throw enumError('traffic_source', e.traffic_source, TRAFFIC_SOURCE_LIST);
  checkIp(e.ip);
  checkString('user_agent', e.user_agent, MAX_USER_AGENT_LENGTH, true);
  if (e.ja3 !== null) checkString('ja3', e.ja3, MAX_TEXT_LENGTH, true);
}

function fail(field: string, problem: string): InvalidEventError {
  return new InvalidEventError(`${field}: ${problem}`, field);
}

/** Quotes a bad value for a message without letting a megabyte of garbage into the log. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function checkString(field: string, v: unknown, maxLength: number, allowEmpty: boolean): asserts v is string {
  if (typeof v !== 'string') throw fail(field, `expected string, got ${valueKind(v)}`);
  if (v.length === 0 && !allowEmpty) throw fail(field, 'must not be empty');
  if (v.length > maxLength) throw fail(field, `too long (${v.length} > ${maxLength} chars)`);
}

function checkId(field: string, v: unknown, allowEmpty: boolean): void {
  checkString(field, v, MAX_ID_LENGTH, allowEmpty);
  if (CONTROL_CHAR.test(v)) throw fail(field, `contains a control character: ${show(v)}`);
}

function checkTs(v: unknown): void {
  if (typeof v !== 'number') throw fail('ts', `expected integer ms since epoch, got ${valueKind(v)}`);
  if (!Number.isInteger(v)) throw fail('ts', `expected integer ms since epoch, got ${v}`);
  if (v < MIN_TS_MS || v >= MAX_TS_MS) {
    throw fail('ts', `out of range: ${v} is not between year 2000 and 2100 (ms since epoch expected)`);
  }
}

function checkWatchMs(v: unknown): void {
  if (typeof v !== 'number') throw fail('watch_ms', `expected integer ≥ 0, got ${valueKind(v)}`);
  if (!Number.isInteger(v) || v < 0 || v > MAX_AVRO_LONG) throw fail('watch_ms', `expected integer in 0..${MAX_AVRO_LONG}, got ${v}`);
}

function checkDuration(v: unknown): void {
  if (v === null) return;
  if (typeof v !== 'number') throw fail('video_duration_ms', `expected integer > 0 or null, got ${valueKind(v)}`);
  if (!Number.isInteger(v) || v <= 0 || v > MAX_AVRO_LONG) {
    throw fail('video_duration_ms', `expected integer in 1..${MAX_AVRO_LONG} or null, got ${v}`);
  }
}

function checkCountry(v: unknown): void {
  if (typeof v !== 'string') throw fail('country', `expected string, got ${valueKind(v)}`);
  if (v.length !== 2 || !isUpperAscii(v.charCodeAt(0)) || !isUpperAscii(v.charCodeAt(1))) {
    throw fail('country', `expected ISO 3166-1 alpha-2 (two letters A–Z, ZZ = unknown), got ${show(v)}`);
  }
}

function isUpperAscii(c: number): boolean {
  return c >= 65 && c <= 90;
}

function enumError(field: string, v: unknown, expected: string): InvalidEventError {
  const got = typeof v === 'string' ? `unknown value ${show(v)}` : `expected string, got ${valueKind(v)}`;
  return fail(field, `${got} (expected one of ${expected})`);
}

function checkIp(v: unknown): void {
  checkString('ip', v, MAX_IP_LENGTH, false);
  if (parseIPv4(v) < 0 && !(v.includes(':') && isIPv6(v))) {
    throw fail('ip', `not a valid IPv4 or IPv6 address: ${show(v)}`);
  }
}
