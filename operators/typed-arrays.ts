/** The typed arrays the keyed state and the windows grow. */
export type GrowableArray = Float64Array | Float32Array | Uint32Array | Int32Array | Uint16Array | Uint8Array | Int8Array;

/** A copy of `a` at exactly `length` elements (cut or zero-filled). */
export function resized<T extends GrowableArray>(a: T, length: number): T {
  const out = new (a.constructor as new (n: number) => T)(length);
  out.set(a.subarray(0, Math.min(a.length, length)) as never);
  return out;
}

/** `a` itself when it has room for `n` elements, else a copy at least twice its length. */
export function fit<T extends GrowableArray>(a: T, n: number): T {
  return n <= a.length ? a : resized(a, Math.max(2 * a.length, n));
}
