import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/**
 * Checkpoint payloads (operator state, ClickHouse blocks) as stored: gzipped JSON. The value is
 * serialised before this returns; the gzip runs on libuv's pool, off the job's busy event loop.
 */
export function encodePayload(value: unknown): Promise<Buffer> {
  return gzipAsync(JSON.stringify(value), { level: 1 });
}

export function decodePayload<T>(bytes: Buffer): T {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as T;
}
