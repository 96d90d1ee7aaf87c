import { hash } from 'node:crypto';
import type { ViewEvent } from './view-event.ts';

/** Hex digits of SHA-1 kept for the (ip, user agent) fallback key: 64 bits, ample for per-video dedup. */
export const IP_UA_HASH_HEX_LENGTH = 16;

/**
 * Who watched, for dedup and partitioning: `v:<viewer_id>` when signed in,
 * else `s:<session_id>`, else `h:<hash of ip and user agent>`. The prefixes
 * keep the three kinds apart, so a session id can never pose as a viewer id.
 */
export function viewerKey(e: ViewEvent): string {
  if (e.viewer_id !== null && e.viewer_id !== '') return `v:${e.viewer_id}`;
  if (e.session_id !== '') return `s:${e.session_id}`;
  // Length-prefixing the ip makes the pair unambiguous whatever the user agent contains.
  const digest = hash('sha1', `${e.ip.length}:${e.ip}${e.user_agent}`, 'hex');
  return `h:${digest.slice(0, IP_UA_HASH_HEX_LENGTH)}`;
}

/** The Kafka message key, `<viewer key>|<video_id>`: one viewer's events for one video share a partition. */
export function kafkaKey(e: ViewEvent): string {
  return `${viewerKey(e)}|${e.video_id}`;
}
