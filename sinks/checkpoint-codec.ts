import { gunzipSync, gzipSync } from 'node:zlib';

/** Checkpoint payloads (operator state, ClickHouse blocks) as stored: gzipped JSON. */
export function encodePayload(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value), { level: 1 });
}

export function decodePayload<T>(bytes: Buffer): T {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as T;
}
