/**
 * The chDB addon's own entry points: statements and bound queries go through
 * `QueryAsyncConnection` and insert bodies through `InsertRawAsyncConnection`
 * (the same native calls `Session.queryBindAsync` and `Session.insert` make):
 * the public wrappers re-escape parameter strings and accept only a fixed list of
 * identifiers and formats, while the HTTP server must pass through exactly what the
 * client sent. The addon is loaded from the very package chdb loads it from, so
 * it is one module instance; if a chdb upgrade drops these entry points the
 * server refuses to start instead of misbehaving.
 */
import { createRequire } from 'node:module';

/** What the addon returns for a statement or an insert. */
export interface NativeResult {
  bytes?: Uint8Array;
  elapsed?: number;
  rowsRead?: number;
  bytesRead?: number;
  rowsWritten?: number;
  bytesWritten?: number;
}

/** The two addon calls the server uses. */
export interface ChdbNative {
  QueryAsyncConnection(conn: unknown, sql: string, format: string, params?: Record<string, string>): Promise<NativeResult>;
  InsertRawAsyncConnection(conn: unknown, prefix: string, data: Buffer, countLines: boolean): Promise<NativeResult>;
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@chdb/lib-linux-x64-gnu',
  'linux-arm64': '@chdb/lib-linux-arm64-gnu',
  'darwin-x64': '@chdb/lib-darwin-x64',
  'darwin-arm64': '@chdb/lib-darwin-arm64',
};

/** The addon of this platform's chdb engine package, checked for the entry points the server needs. */
export function loadNative(): ChdbNative {
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (!pkg) throw new Error(`chdb has no prebuilt engine for ${process.platform}-${process.arch}`);
  // Resolve from chdb's own location so this is the module instance chdb uses.
  const chdbRequire = createRequire(createRequire(import.meta.url).resolve('chdb'));
  const native = chdbRequire(pkg) as Partial<ChdbNative>;
  if (typeof native.QueryAsyncConnection !== 'function' || typeof native.InsertRawAsyncConnection !== 'function') {
    throw new Error(`${pkg} lacks QueryAsyncConnection/InsertRawAsyncConnection; this chdb version is not supported by infra/chdb-native.ts`);
  }
  return native as ChdbNative;
}
