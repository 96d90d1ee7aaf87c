import { hash } from 'node:crypto';
import type { ViewEvent } from './view-event.ts';

/** Hex digits of SHA-1 kept for the (ip, user agent) fallback key: 64 bits, ample for per-video dedup. */
export const IP_UA_HASH_HEX_LENGTH = 16;

/**
 * Who watched, for dedup and partitioning: `v:<viewer_id>` when signed in, else `s:<session_id>`,
 * else `h:<hash of ip and user agent>`, as a prefix and an id so that a key can be fingerprinted
 * in pieces. The prefixes keep the three kinds apart, so a session id can never pose as a viewer id.
 */
export function viewerKeyPrefix(e: ViewEvent): 'v:' | 's:' | 'h:' {
  if (e.viewer_id !== null && e.viewer_id !== '') return 'v:';
  return e.session_id !== '' ? 's:' : 'h:';
}

/** The id part of the viewer key, after {@link viewerKeyPrefix}. */
export function viewerKeyId(e: ViewEvent, prefix: 'v:' | 's:' | 'h:'): string {
  if (prefix === 'v:') return e.viewer_id!;
  if (prefix === 's:') return e.session_id;
  // Length-prefixing the ip makes the pair unambiguous whatever the user agent contains.
  return hash('sha1', `${e.ip.length}:${e.ip}${e.user_agent}`, 'hex').slice(0, IP_UA_HASH_HEX_LENGTH);
}

/** The viewer key as one string. */
export function viewerKey(e: ViewEvent): string {
  const prefix = viewerKeyPrefix(e);
  return prefix + viewerKeyId(e, prefix);
}

/** The Kafka message key, `<viewer key>|<video_id>`: one viewer's events for one video share a partition. */
export function kafkaKey(e: ViewEvent): string {
  return `${viewerKey(e)}|${e.video_id}`;
}
