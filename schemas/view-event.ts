/** Every outcome an event can end in; the first rule that applies decides. */
export const OUTCOMES = ['counted', 'duplicate', 'bot', 'too_short', 'not_a_view', 'owner', 'invalid', 'too_late'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const DEVICES = ['desktop', 'mobile', 'tablet', 'tv', 'console', 'other'] as const;
export type Device = (typeof DEVICES)[number];

export const TRAFFIC_SOURCES = ['search', 'suggested', 'external', 'direct', 'channel', 'playlist', 'notification', 'other'] as const;
export type TrafficSource = (typeof TRAFFIC_SOURCES)[number];

/** A view event as the design's contract defines it (JSON form; `ts` in ms since epoch). */
export interface ViewEvent {
  event_id: string;
  event_type: string;
  video_id: string;
  channel_id: string;
  category: string;
  viewer_id: string | null;
  owner_id: string | null;
  session_id: string;
  ts: number;
  watch_ms: number;
  video_duration_ms: number | null;
  country: string;
  device: Device;
  traffic_source: TrafficSource;
  ip: string;
  user_agent: string;
  ja3: string | null;
}
